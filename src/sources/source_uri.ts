// Source URIs (`--source [ID=]URI`) parsed into typed source specs.

import { editDistance } from "../cli/edit_distance.ts";
import { parseSceneQuery, type SceneSpec } from "./scene_source.ts";

/** Default geometry and rate of a `synthetic` or `testsrc` source without parameters. */
export const SYNTHETIC_DEFAULTS = { width: 1280, height: 720, fps: 30 } as const;

/** Valid stream ids: 1 to 64 characters, safe as label values, in logs and in URLs. */
export const STREAM_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** A synthetic frame source: moving shapes rendered once at start and cycled. */
export interface SyntheticSourceSpec {
  kind: "synthetic";
  /** Stream id, used as the `stream_id` label. */
  id: string;
  /** The URI as the user wrote it. */
  uri: string;
  /** Width of the simulated camera image in pixels. */
  width: number;
  /** Height of the simulated camera image in pixels. */
  height: number;
  /** Frames per second; 0 means as fast as the pipeline takes them. */
  fps: number;
  /** A burst at the start: `seconds` at `fps`, then the normal rate; null for none. */
  burst: { seconds: number; fps: number } | null;
  /** `?scene=walk[&gt=PATH]`: the walking scene with known identities (scene_source.ts). */
  scene?: SceneSpec;
}

/** What kind of input ffmpeg reads. */
export type FfmpegInputKind = "file" | "rtsp" | "http" | "v4l2" | "testsrc";

/** A source decoded by an ffmpeg child process. */
export interface FfmpegSourceSpec {
  kind: "ffmpeg";
  id: string;
  uri: string;
  input: FfmpegInputKind;
  /** ffmpeg/ffprobe arguments placed before `-i`. */
  inputArgs: string[];
  /** The `-i` argument. */
  target: string;
}

/** Any configured source. */
export type SourceSpec = SyntheticSourceSpec | FfmpegSourceSpec;

/** Parses `NAME[:WxH][@FPS]` into its geometry and rate, or null when `uri` is not one. */
function parseGenerator(
  name: string,
  uri: string,
): { width: number; height: number; fps: number } | null {
  const match = new RegExp(`^${name}(?::(\\d+)x(\\d+))?(?::?@(\\d+(?:\\.\\d+)?))?$`).exec(uri);
  if (!match) return null;
  const width = match[1] ? Number(match[1]) : SYNTHETIC_DEFAULTS.width;
  const height = match[2] ? Number(match[2]) : SYNTHETIC_DEFAULTS.height;
  const fps = match[3] !== undefined ? Number(match[3]) : SYNTHETIC_DEFAULTS.fps;
  if (width < 16 || height < 16 || width > 8192 || height > 8192) {
    throw new Error(`size ${width}x${height} is outside 16..8192 pixels per side`);
  }
  return { width, height, fps };
}

/**
 * Splits `[ID=]URI`. The text before the first `=` is an id prefix when it holds none of `/:?@`
 * (so it cannot be part of a path, a URL or a generator's parameters); such a prefix must be a
 * valid id.
 *
 * @throws {Error} naming the prefix when it is meant as an id but breaks the id rule
 */
export function splitSourceArg(value: string): { id: string | null; uri: string } {
  const eq = value.indexOf("=");
  if (eq < 0) return { id: null, uri: value };
  const prefix = value.slice(0, eq);
  if (STREAM_ID_PATTERN.test(prefix)) return { id: prefix, uri: value.slice(eq + 1) };
  if (/[/:?@]/.test(prefix)) return { id: null, uri: value };
  throw new Error(
    `stream id ${JSON.stringify(prefix)} is not 1-64 characters of A-Z a-z 0-9 _ . -`,
  );
}

/** The longest `[ID=]URI` taken: longer is refused, never logged whole. */
export const MAX_SOURCE_LENGTH = 4096;

/** A source text as messages quote it: credentials redacted, JSON, cut to 80 characters. */
export function quoteSource(text: string): string {
  const shown = redactSecrets(text);
  return shown.length <= 80 ? JSON.stringify(shown) : `${JSON.stringify(shown.slice(0, 80))}…`;
}

/** What a secret is replaced with wherever a source is shown. */
export const REDACTED = "***";

/**
 * Query parameter names whose values are secrets, matched anywhere in the name and in any case
 * (`password`, `token`, `api_key`, `X-Amz-Signature`, `auth`, `sig`, `session`, ...).
 */
const SECRET_PARAMETER = /pass|pwd|secret|token|key|auth|sig|credential|session|jwt|cookie/i;

/** `scheme://USERINFO@` in any text; USERINFO runs to the last `@` before the host's end. */
const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'<>]*(?:@[^\s/?#@"'<>]*)*)@/gi;

/**
 * `?name=value` or `&name=value` (also `;`) in any text; the value runs to `&`, `#`, `;`, a space,
 * a quote, or a colon that ends it (`...?token=x: Connection refused`).
 */
const QUERY_PARAMETER = /([?&;])([^=&#\s"'<>?]+)=((?:[^&#\s"'<>;:]|:(?!\s|$))*)/g;

/**
 * Replaces the credentials that any URL in `text` carries: the password of its user info
 * (`rtsp://admin:S3cret@cam/stream` -> `rtsp://admin:***@cam/stream`) and the values of its
 * secret-looking query parameters (`?token=abc` -> `?token=***`). Text without them is returned
 * as it is.
 *
 * @example
 * ```ts
 * redactSecrets("rtsp://admin:S3cret@cam/stream: Connection refused");
 * // "rtsp://admin:***@cam/stream: Connection refused"
 * ```
 *
 * @param text any text: a URI, a log field, ffmpeg's stderr
 * @returns the text with the secrets replaced by {@linkcode REDACTED}
 */
export function redactSecrets(text: string): string {
  if (!text.includes("@") && !text.includes("=")) return text;
  return text
    .replace(USER_INFO, (_all, scheme: string, info: string) => {
      const colon = info.indexOf(":");
      return colon < 0 ? `${scheme}${info}@` : `${scheme}${info.slice(0, colon)}:${REDACTED}@`;
    })
    .replace(
      QUERY_PARAMETER,
      (all, sep: string, name: string, value: string) =>
        value !== "" && value !== REDACTED && SECRET_PARAMETER.test(name)
          ? `${sep}${name}=${REDACTED}`
          : all,
    );
}

/** The secrets of a source URI: its password and secret query values, as written and decoded. */
function secretsOf(uri: string): string[] {
  const secrets = new Set<string>();
  const add = (value: string) => {
    secrets.add(value);
    try {
      secrets.add(decodeURIComponent(value));
    } catch {
      // not percent-encoded text
    }
  };
  for (const match of uri.matchAll(USER_INFO)) {
    const info = match[2]!;
    const colon = info.indexOf(":");
    if (colon >= 0) add(info.slice(colon + 1));
  }
  for (const match of uri.matchAll(QUERY_PARAMETER)) {
    if (match[3] !== "" && SECRET_PARAMETER.test(match[2]!)) add(match[3]!);
  }
  // Short values would replace ordinary words; in a URL the patterns above still catch them.
  return [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/**
 * A source URI as logs, pages, labels and messages show it: {@linkcode redactSecrets} of it.
 *
 * @example
 * ```ts
 * redactUri("rtsp://admin:S3cret@10.0.0.5/stream1"); // "rtsp://admin:***@10.0.0.5/stream1"
 * ```
 *
 * @param uri the URI as the user wrote it
 * @returns the URI with its credentials replaced
 */
export function redactUri(uri: string): string {
  return redactSecrets(uri);
}

/**
 * Text that quotes a source's tools (ffmpeg's or ffprobe's stderr, an error message) with the
 * source's credentials replaced: every URL's as {@linkcode redactSecrets} does, and any other
 * place the URI's password or secret values appear, as written or percent-decoded.
 *
 * @param text the text to show
 * @param uri the source URI whose secrets it may quote
 * @returns the text with the secrets replaced by {@linkcode REDACTED}
 */
export function redactSourceText(text: string, uri: string): string {
  let shown = redactSecrets(text);
  for (const secret of secretsOf(uri)) shown = shown.replaceAll(secret, REDACTED);
  return shown;
}

/** One `[ID=]URI` text and where it was written (a flag, a file line), for messages. */
export interface SourceArg {
  text: string;
  /** E.g. `--source "cam=x.mp4"` or `sources.txt:3`. */
  origin: string;
}

/**
 * Parses `[ID=]URI` texts into specs, numbering the unnamed ones `s0`, `s1`, ... in order.
 *
 * @returns the specs, and one problem per bad text (a duplicate id names both places)
 */
export function resolveSourceArgs(
  args: readonly SourceArg[],
): { sources: SourceSpec[]; problems: string[] } {
  const sources: SourceSpec[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  let unnamed = 0;
  for (const { text, origin } of args) {
    if (text.length > MAX_SOURCE_LENGTH) {
      problems.push(
        `Invalid ${origin}: the source is ${text.length} characters long, over the limit of ` +
          `${MAX_SOURCE_LENGTH}`,
      );
      continue;
    }
    try {
      const split = splitSourceArg(text);
      const id = split.id ?? `s${unnamed++}`;
      const first = seen.get(id);
      if (first !== undefined) {
        problems.push(
          `Invalid ${origin}: stream id ${JSON.stringify(id)} is already defined by ${first}`,
        );
        continue;
      }
      seen.set(id, origin);
      sources.push(parseSourceUri(id, split.uri));
    } catch (err) {
      problems.push(`Invalid ${origin}: ${(err as Error).message}`);
    }
  }
  return { sources, problems };
}

/**
 * Parses a source URI for stream `id`.
 *
 * Accepts `synthetic[:WxH][@FPS][?burst=Ns@FPS]` (a burst at the start, then the rate), `testsrc[:WxH][@FPS]` (ffmpeg's test pattern), a file path
 * or `file://` URL, `rtsp://`, `rtsps://` (over TCP), `http(s)://` (progressive or HLS) and
 * `v4l2:/dev/videoN`.
 *
 * @throws {Error} naming the URI when it is not supported
 */
export function parseSourceUri(id: string, uri: string): SourceSpec {
  const [base = "", query] = uri.split("?", 2);
  const synthetic = parseGenerator("synthetic", base);
  if (synthetic) {
    if (synthetic.fps > 10000) throw new Error(`frame rate ${synthetic.fps} is above 10000`);
    let burst: SyntheticSourceSpec["burst"] = null;
    if (query !== undefined && /(^|&)(scene|gt)=/.test(query)) {
      // The scene's people are 224 x 400 px on a 1280 x 1280 frame unless a size is given.
      const size = base.includes(":") ? {} : { width: 1280, height: 1280 };
      const scene = parseSceneQuery(query);
      if (!(synthetic.fps > 0)) throw new Error("the scene needs a frame rate above 0: @FPS");
      return { kind: "synthetic", id, uri, ...synthetic, ...size, burst, scene };
    }
    if (query !== undefined) {
      const match = /^burst=(\d+(?:\.\d+)?)s@(\d+(?:\.\d+)?)$/.exec(query);
      if (!match) {
        throw new Error(
          `unknown parameter ${
            JSON.stringify(redactSecrets(`?${query}`).slice(1))
          }: synthetic takes ?burst=SECONDSs@FPS`,
        );
      }
      burst = { seconds: Number(match[1]), fps: Number(match[2]) };
      if (!(burst.fps > 0 && burst.fps <= 10000)) {
        throw new Error(`burst rate ${burst.fps} is outside (0, 10000]`);
      }
    }
    return { kind: "synthetic", id, uri, ...synthetic, burst };
  }
  const testsrc = parseGenerator("testsrc", uri);
  for (const generator of ["synthetic", "testsrc"]) {
    if (!synthetic && !testsrc && new RegExp(`^${generator}([:@?]|$)`).test(uri)) {
      throw new Error(
        `malformed ${JSON.stringify(uri)}: write ${generator}[:WxH][@FPS]` +
          (generator === "synthetic" ? "[?burst=Ns@FPS]" : "") + ", e.g. " + generator +
          ":1280x720@30",
      );
    }
  }
  if (testsrc) {
    const { width, height, fps } = testsrc;
    if (!(fps > 0 && fps <= 1000)) throw new Error(`frame rate ${fps} is outside (0, 1000]`);
    return {
      kind: "ffmpeg",
      id,
      uri,
      input: "testsrc",
      inputArgs: ["-f", "lavfi"],
      target: `testsrc=size=${width}x${height}:rate=${fps}`,
    };
  }
  if (/^rtsps?:\/\/./i.test(uri)) {
    return {
      kind: "ffmpeg",
      id,
      uri,
      input: "rtsp",
      inputArgs: ["-rtsp_transport", "tcp"],
      target: uri,
    };
  }
  if (/^https?:\/\/./i.test(uri)) {
    return { kind: "ffmpeg", id, uri, input: "http", inputArgs: [], target: uri };
  }
  const v4l2 = /^v4l2:(\/dev\/\S+)$/.exec(uri);
  if (v4l2) {
    return { kind: "ffmpeg", id, uri, input: "v4l2", inputArgs: ["-f", "v4l2"], target: v4l2[1]! };
  }
  if (uri.startsWith("file://")) {
    const path = decodeURIComponent(new URL(uri).pathname);
    return { kind: "ffmpeg", id, uri, input: "file", inputArgs: [], target: path };
  }
  if (/^(rtsps?|https?):\/\/$/i.test(uri)) {
    throw new Error(`${JSON.stringify(uri)} names no host: write e.g. ${uri}10.0.0.5/stream1`);
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  if (scheme || uri === "") {
    throw new Error(
      `unsupported URI ${
        JSON.stringify(redactUri(uri))
      }: use a file path, file://, rtsp(s)://, http(s)://, ` +
        `v4l2:/dev/videoN, testsrc[:WxH][@FPS] or synthetic[:WxH][@FPS][?burst=Ns@FPS]`,
    );
  }
  // `synthtic@30` is a typo far more often than a file's name: a file so named is `./synthtic@30`.
  const generatorLike = /^([A-Za-z]+)(@[\d.]+)?(\?.*)?$/.exec(uri);
  if (generatorLike && (generatorLike[2] !== undefined || generatorLike[3] !== undefined)) {
    const word = generatorLike[1]!.toLowerCase();
    const near = ["synthetic", "testsrc"].find((g) => editDistance(word, g) <= 2);
    if (near !== undefined) {
      // A query may hold a secret (?password=...): every quote of the URI is the redacted one.
      const shown = redactUri(uri);
      throw new Error(
        `unknown source kind ${JSON.stringify(generatorLike[1])} in ${JSON.stringify(shown)} ` +
          `(did you mean ${near}${shown.slice(generatorLike[1]!.length)}? a file by this name is ` +
          `./${shown})`,
      );
    }
  }
  return { kind: "ffmpeg", id, uri, input: "file", inputArgs: [], target: uri };
}
