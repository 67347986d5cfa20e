/**
 * RTMP command messages (AMF0 `name, transactionId, commandObject, ...args`): decoding what the
 * publisher sends and building the few replies the ingest needs.
 */
import { decodeAmf0Values, encodeAmf0Values, type Amf0Object, type Amf0Value } from "./amf0.ts";
import type { RtmpMessage } from "./chunk-parser.ts";
import { CSID_COMMAND, MSG, type OutgoingMessage } from "./chunk-writer.ts";

/** onStatus goes out on its own chunk stream, as FMS does, so it never waits behind `_result`s. */
export const CSID_STATUS = 5;

export interface RtmpCommand {
  name: string;
  transactionId: number;
  commandObject: Amf0Value;
  args: Amf0Value[];
}

export class CommandError extends Error {
  override readonly name = "CommandError";
}

/** Decodes a type 20 (AMF0) or 17 (AMF3) command message. Throws on anything malformed. */
export const parseCommand = (message: RtmpMessage): RtmpCommand => {
  // An AMF3 command starts with one format byte and then, from every publisher we serve,
  // ordinary AMF0 values.
  const body = message.typeId === MSG.commandAmf3 ? message.payload.subarray(1) : message.payload;
  const [name, transactionId, commandObject, ...args] = decodeAmf0Values(body);
  if (typeof name !== "string") throw new CommandError("command name is not a string");
  return {
    name,
    transactionId: typeof transactionId === "number" && Number.isFinite(transactionId) ? transactionId : 0,
    commandObject: commandObject ?? null,
    args,
  };
};

const command = (values: Amf0Value[], streamId: number, chunkStreamId: number): OutgoingMessage => ({
  chunkStreamId,
  typeId: MSG.commandAmf0,
  streamId,
  timestamp: 0,
  payload: encodeAmf0Values(values),
});

export const resultMessage = (transactionId: number, ...values: Amf0Value[]): OutgoingMessage =>
  command(["_result", transactionId, ...values], 0, CSID_COMMAND);

export interface StatusInfo extends Amf0Object {
  level: "status" | "warning" | "error";
  code: string;
  description: string;
}

/** `_error` carries the info object as its second value; ffmpeg reads `description` from it. */
export const errorMessage = (transactionId: number, info: StatusInfo): OutgoingMessage =>
  command(["_error", transactionId, null, info], 0, CSID_COMMAND);

export const onStatusMessage = (streamId: number, info: StatusInfo): OutgoingMessage =>
  command(["onStatus", 0, null, info], streamId, CSID_STATUS);
