import { existsSync, readFileSync } from "node:fs";
import { formatLoad, type MachineInfo } from "./machine.ts";

/** A result table: rendered as Markdown in RESULTS.md and as aligned text on the console. */
export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

/** One headline figure: Cascade, its baseline in the same run, and the ratio Cascade / baseline. */
export interface Figure {
  figure: string;
  cascade: string;
  baseline: string;
  ratio: string;
}

export interface BenchResult {
  name: string;
  title: string;
  /** What was measured and how, a short paragraph (goes above the tables). */
  method: string;
  /** The parameters of this run (durations, client counts, …). */
  settings: string;
  figures: Figure[];
  tables: Table[];
  notes: string[];
}

export interface BenchOptions {
  /** Development mode: short durations and small loads (figures not for publication). */
  quick: boolean;
  /** Progress line on the console. */
  log: (line: string) => void;
}

export interface Benchmark {
  name: string;
  title: string;
  /** One line for `--list`. */
  summary: string;
  run(options: BenchOptions): Promise<BenchResult>;
}

export const renderTextTable = (t: Table): string => {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [t.title, line(t.columns), line(widths.map((w) => "-".repeat(w))), ...t.rows.map(line)].join("\n");
};

const mdCell = (s: string) => s.replace(/\|/g, "\\|");

export const renderMarkdownTable = (t: Table): string =>
  [
    `**${t.title}**`,
    "",
    `| ${t.columns.map(mdCell).join(" | ")} |`,
    `| ${t.columns.map(() => "---").join(" | ")} |`,
    ...t.rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`),
  ].join("\n");

export const figuresTable = (title: string, rows: Array<{ benchmark: string } & Figure>): Table => ({
  title,
  columns: ["benchmark", "figure", "Cascade", "baseline", "ratio Cascade/baseline"],
  rows: rows.map((r) => [r.benchmark, r.figure, r.cascade, r.baseline, r.ratio]),
});

export interface RunContext {
  machine: MachineInfo;
  date: Date;
  command: string;
  /** False for quick runs and runs with BENCH_* overrides: such figures are not for publication. */
  publishable: boolean;
}

const begin = (name: string) => `<!-- bench:${name}:begin -->`;
const end = (name: string) => `<!-- bench:${name}:end -->`;

/** The Markdown section of one benchmark, with the run's machine, date and command. */
export const renderSection = (ctx: RunContext, r: BenchResult | { name: string; title: string; error: string }): string => {
  const m = ctx.machine;
  const out: string[] = [
    begin(r.name),
    `## ${r.title} (\`${r.name}\`)`,
    "",
    `- Date: ${ctx.date.toISOString()}`,
    `- Command: \`${ctx.command}\`${ctx.publishable ? "" : " — development run (shortened or overridden settings), not for comparison"}`,
    `- Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.os}`,
    `- Software: Node ${m.node}, ffmpeg ${m.ffmpeg}`,
    `- Load average when the run started (1/5/15 min): ${formatLoad(m.loadAverage)}`,
  ];
  if ("error" in r) {
    out.push("", "**FAILED**", "", "```", r.error, "```", end(r.name));
    return out.join("\n");
  }
  out.push(`- Settings: ${r.settings}`, "", r.method, "");
  out.push(renderMarkdownTable({ title: "Figures", columns: ["figure", "Cascade", "baseline", "ratio Cascade/baseline"], rows: r.figures.map((f) => [f.figure, f.cascade, f.baseline, f.ratio]) }), "");
  for (const t of r.tables) out.push(renderMarkdownTable(t), "");
  for (const n of r.notes) out.push(`- ${n}`);
  if (r.notes.length) out.push("");
  out.push(end(r.name));
  return out.join("\n");
};

const HEADER = [
  "# Cascade benchmark results",
  "",
  "Written by `npm run bench` (bench/run.ts); `npm run bench -- <name>` refreshes one section and",
  "keeps the others. Every section names the machine, date and command of the run that produced it.",
  "These are measurements, not pass/fail thresholds: compare each ratio against the baseline measured",
  "in the same run rather than absolute figures across runs or machines (bench/README.md).",
  "",
].join("\n");

/** Sections of an existing results file, by benchmark name. */
export const readSections = (file: string): Map<string, string> => {
  const sections = new Map<string, string>();
  if (!existsSync(file)) return sections;
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/<!-- bench:([a-z0-9-]+):begin -->[\s\S]*?<!-- bench:\1:end -->/g)) sections.set(m[1]!, m[0]);
  return sections;
};

/**
 * The whole results document: `fresh` sections replace the stored ones, the others are kept, in
 * the order of `order` (the benchmark registry).
 */
export const renderResultsFile = (order: string[], existing: Map<string, string>, fresh: Map<string, string>): string => {
  const sections = order.map((name) => fresh.get(name) ?? existing.get(name)).filter((s): s is string => s !== undefined);
  const body = sections.length > 0 ? sections.join("\n\n") : "No figures yet: run `npm run bench` on a quiet machine.";
  return `${HEADER}\n${body}\n`;
};
