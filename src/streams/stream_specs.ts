// The one way from the configured sources to streams ready to run: the flags' sources and the
// sources file's lines, the tools they need, and each stream's decoder.

import type { Logger } from "../log.ts";
import { type DecoderChoice, DecoderChooser } from "../sources/nvdec_probe.ts";
import { checkSourceTools } from "../sources/source_factory.ts";
import type { SourceSpec } from "../sources/source_uri.ts";
import type { SourcesConfig } from "../sources/sources_config.ts";
import { loadSources, SourcesFileError, type SourcesFileWatch } from "../sources/sources_file.ts";

/** Where the streams come from, and what reading and decoding them needs. */
export type StreamSpecsOptions =
  & Pick<
    SourcesConfig,
    "sources" | "sourceArgs" | "sourcesFile" | "ffmpegPath" | "ffprobePath" | "decode" | "deviceId"
  >
  & { log: Logger };

/** Streams ready to run: their specs and each one's decoder, by stream id. */
export interface PreparedStreams {
  specs: SourceSpec[];
  decoders: ReadonlyMap<string, DecoderChoice>;
}

/**
 * Reads the wanted streams ({@linkcode StreamSpecs.read}) and prepares them to run
 * ({@linkcode StreamSpecs.prepare}: the tools they need, each one's decoder), the same way at
 * start and on every reload.
 */
export class StreamSpecs {
  #options: StreamSpecsOptions;
  #chooser: DecoderChooser | null = null;
  #watch: SourcesFileWatch | null = null;

  constructor(options: StreamSpecsOptions) {
    this.#options = options;
  }

  /** The sources file, or null. */
  get sourcesFile(): string | null {
    return this.#options.sourcesFile;
  }

  /** The watcher of the sources file, told of each read so that it does not report it. */
  follow(watch: SourcesFileWatch): void {
    this.#watch = watch;
  }

  /**
   * The wanted streams: the flags' sources, then the sources file's lines.
   *
   * @param options `quiet` leaves out the warnings about the file (a check before the real read)
   * @throws {SourcesFileError} when the file cannot be read or a line is bad
   */
  async read(options: { quiet?: boolean } = {}): Promise<SourceSpec[]> {
    const { sourcesFile, sources, sourceArgs, log } = this.#options;
    if (sourcesFile === null) return [...sources];
    this.#watch?.markSeen();
    const loaded = await loadSources(sourcesFile, sourceArgs);
    if (options.quiet) return loaded.specs;
    if (loaded.fileLines === 0) log.warn("the sources file has no sources", { file: sourcesFile });
    if (loaded.unnamedLines > 0) {
      log.warn(
        "sources file lines without ID= are numbered by position: a line inserted above them " +
          "renames and restarts them; give each line an ID=",
        { file: sourcesFile, lines_without_id: loaded.unnamedLines },
      );
    }
    return loaded.specs;
  }

  /**
   * Checks the tools `specs` need and chooses each stream's decoder; the host's NVDEC support
   * is checked once, and an input already tested is not tested again.
   *
   * @param specs the streams
   * @param model the model's input size (NVDEC's test frame is scaled to it)
   * @throws {MissingToolError} when ffmpeg or ffprobe cannot be run
   * @throws {DecoderUnavailableError} for `--decode nvdec` where NVDEC cannot decode a stream
   */
  async prepare(
    specs: SourceSpec[],
    model: { width: number; height: number },
  ): Promise<PreparedStreams> {
    const o = this.#options;
    await this.checkTools(specs);
    this.#chooser ??= new DecoderChooser({
      ffmpegPath: o.ffmpegPath,
      decode: o.decode,
      deviceId: o.deviceId,
      width: model.width,
      height: model.height,
    });
    return { specs, decoders: await this.#chooser.chooseAll(specs) };
  }

  /**
   * Checks that the tools `specs` need can be run.
   *
   * @throws {MissingToolError} naming the tool and the streams that need it
   */
  async checkTools(specs: readonly SourceSpec[]): Promise<void> {
    await checkSourceTools(specs, this.#options);
  }
}

/**
 * The one line that says why the streams could not be read or prepared, the same at start and on
 * reload: a sources file's problems, or the error's message.
 */
export function describeStreamsError(err: unknown): string {
  if (err instanceof SourcesFileError) return err.problems.join("; ");
  return err instanceof Error ? err.message : String(err);
}
