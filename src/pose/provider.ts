// ONNX Runtime's execution providers: the one home of the `--provider` choice.

/** The `--provider` choices, in the order --help lists them. */
export const PROVIDER_CHOICES = ["auto", "cuda", "cpu"] as const;

/** Which ONNX Runtime execution provider to use: CUDA, the CPU, or CUDA where it loads. */
export type ProviderChoice = typeof PROVIDER_CHOICES[number];

/** The execution provider a session runs on. */
export type Provider = Exclude<ProviderChoice, "auto">;
