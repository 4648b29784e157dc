// Where video is decoded: the one home of the `--decode` choice and of a stream's decoder.

/** The `--decode` choices, in the order --help lists them. */
export const DECODE_CHOICES = ["auto", "cpu", "nvdec"] as const;

/** Where ffmpeg decodes video: the GPU's NVDEC engines, the CPU, or NVDEC where it works. */
export type DecodeChoice = typeof DECODE_CHOICES[number];

/** Where one stream's video is decoded. */
export type Decoder = Exclude<DecodeChoice, "auto">;
