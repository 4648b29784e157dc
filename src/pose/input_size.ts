// The model's input size: `--input-size N|WxH`, and which size a dynamic model is fed.

/** A picture size in pixels. */
export interface InputSize {
  width: number;
  height: number;
}

/** Largest side `--input-size` accepts. */
export const MAX_INPUT_SIDE = 8192;

/**
 * Reads `--input-size`: `N` (square) or `WIDTHxHEIGHT`.
 *
 * @param text the flag's text, undefined when it was not given
 * @param onProblem receives the reason when the text is not a size
 * @returns the size, or null when not given or bad
 */
export function parseInputSize(
  text: string | undefined,
  onProblem: (reason: string) => void,
): InputSize | null {
  if (text === undefined) return null;
  const m = /^\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?$/.exec(text);
  const width = m ? Number(m[1]) : NaN;
  const height = m ? Number(m[2] ?? m[1]) : NaN;
  const ok = (v: number) => Number.isInteger(v) && v >= 32 && v <= MAX_INPUT_SIDE;
  if (!ok(width) || !ok(height)) {
    onProblem(`is not N or WIDTHxHEIGHT with sides in 32..${MAX_INPUT_SIDE}`);
    return null;
  }
  return { width, height };
}

/** Where the input size of a prepared model came from. */
export type InputSizeSource = "model" | "--input-size" | "metadata imgsz" | "default 640";

/** Options of {@linkcode resolveInputSize}. */
export interface ResolveInputSizeOptions {
  /** The model's own height and width: numbers when fixed, null when dynamic. */
  fixed: { width: number | null; height: number | null };
  /** `--input-size`, null when not given. */
  requested: InputSize | null;
  /** Ultralytics' `imgsz` ([height, width]), null without metadata. */
  imgsz: [number, number] | null;
  /** Sides of a dynamic input are rounded up to a multiple of this. @default {32} */
  stride?: number;
}

/** What {@linkcode resolveInputSize} decided, with what to say about it once. */
export interface ResolvedInputSize extends InputSize {
  source: InputSizeSource;
  /** Sentences for the log: a size rounded to the stride, an `--input-size` that cannot apply. */
  notes: string[];
}

/**
 * The size the frames are letterboxed to. A fixed side is the model's; a dynamic side comes from
 * `--input-size`, else the `imgsz` in the metadata, else 640, rounded up to the stride (as
 * Ultralytics' check_imgsz does).
 *
 * @param options the model's dimensions, the flag and the metadata
 * @returns the size and where it came from
 */
export function resolveInputSize(options: ResolveInputSizeOptions): ResolvedInputSize {
  const stride = options.stride ?? 32;
  const notes: string[] = [];
  const { fixed, requested, imgsz } = options;
  let source: InputSizeSource;
  let want: InputSize;
  if (requested !== null) {
    source = "--input-size";
    want = requested;
  } else if (imgsz !== null) {
    source = "metadata imgsz";
    want = { width: imgsz[1], height: imgsz[0] };
  } else {
    source = "default 640";
    want = { width: 640, height: 640 };
  }
  const side = (fixedSide: number | null, wanted: number, name: string): number => {
    if (fixedSide !== null) return fixedSide;
    const rounded = Math.ceil(wanted / stride) * stride;
    if (rounded !== wanted) {
      notes.push(
        `input ${name} ${wanted} (${source}) is not a multiple of the stride ${stride}: using ${rounded}`,
      );
    }
    return rounded;
  };
  const width = side(fixed.width, want.width, "width");
  const height = side(fixed.height, want.height, "height");
  if (fixed.width !== null && fixed.height !== null) {
    if (
      requested !== null && (requested.width !== fixed.width || requested.height !== fixed.height)
    ) {
      notes.push(
        `--input-size ${requested.width}x${requested.height} ignored: the model's input is fixed ` +
          `at ${fixed.width}x${fixed.height} (export with dynamic=True to choose the size)`,
      );
    }
    return { width, height, source: "model", notes };
  }
  return { width, height, source, notes };
}
