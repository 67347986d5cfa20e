/**
 * Reads the options a binary documents in `ffmpeg -h <topic>` (`full`, `filter=scale`,
 * `muxer=mp4`, `encoder=libx264` …): option name → the named values listed under it (flag and
 * enum constants). Two layouts are read: command-line options at the start of a line
 * (`-progress url  write program-readable …`) and AVOptions, indented, with a `<type>` column,
 * their named values indented further below them. The indentation differs between releases
 * (two spaces in 4.x, three in 5.x), so only the shape of a line counts.
 */
export type HelpOptions = ReadonlyMap<string, ReadonlySet<string>>;

const CLI_OPTION = /^-([A-Za-z0-9_:-]+)(?:\s|$)/;
const AV_OPTION = /^\s+-?([A-Za-z0-9_-]+)\s+<[^>]+>/;
/** A named value: name, an optional numeric value (5.x lists it), then the flags column (`E..V.......`). */
const AV_VALUE = /^\s+(\S+)\s+(?:-?[0-9][0-9.e+-]*\s+)?[A-Z.]{9,}(?:\s|$)/;

export const parseHelpOptions = (text: string): HelpOptions => {
  const options = new Map<string, Set<string>>();
  let current: Set<string> | null = null;
  const option = (name: string): Set<string> => {
    let values = options.get(name);
    if (!values) options.set(name, (values = new Set()));
    return values;
  };
  for (const line of text.split("\n")) {
    const cli = CLI_OPTION.exec(line);
    if (cli) {
      current = option(cli[1]!);
      continue;
    }
    const av = AV_OPTION.exec(line);
    if (av) {
      // The same name recurs across contexts in `-h full` (codec, format …): the values merge.
      current = option(av[1]!);
      continue;
    }
    const value = AV_VALUE.exec(line);
    if (value && current) {
      current.add(value[1]!);
      continue;
    }
    if (!/^\s/.test(line)) current = null;
  }
  return options;
};

/** `ffmpeg -h filter=x` and friends exit 0 for an unknown name; this tells the answer apart. */
export const helpTopicKnown = (text: string): boolean =>
  text.trim() !== "" && !/^(Unknown (filter|format|encoder|decoder)|Codec '.*' is not recognized)/m.test(text);

/** Topics that are the binary's component lists (`ffmpeg -filters` …) rather than `-h <topic>`. */
export const COMPONENT_LISTS: ReadonlySet<string> = new Set(["filters", "muxers", "encoders"]);

/** The ffmpeg arguments that print a topic. */
export const helpArgs = (topic: string): string[] => ["-hide_banner", ...(COMPONENT_LISTS.has(topic) ? [`-${topic}`] : ["-h", topic])];

/** Names in `ffmpeg -filters`, `-muxers` or `-encoders`: a flags column, then the name (the legend's lines read `X = …`). */
export const parseComponentList = (text: string): Set<string> => {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^\s*[A-Z.|]{1,6}\s+(\S+)\s/.exec(line);
    if (m && m[1] !== "=") names.add(m[1]!);
  }
  return names;
};
