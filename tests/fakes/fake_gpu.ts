// Drives tests/fixtures/fake_nvidia_smi through its state file.

import { fixturePath } from "../_helpers.ts";

/** Path of the fake nvidia-smi. */
export const FAKE_NVIDIA_SMI = fixturePath("fake_nvidia_smi");

/** A GPU as the fake prints it (MiB; null prints [N/A]). */
export interface FakeGpu {
  index: number;
  uuid: string;
  name: string;
  total: number | null;
  used: number | null;
  free: number | null;
  reserved: number | null;
  util: number | null;
}

/** The fake's state. */
export interface FakeState {
  mode?: "ok" | "no_devices" | "no_driver" | "hang" | "garbage";
  gpus: FakeGpu[];
  apps: { pid: number | "parent"; gpu_uuid: string; used: number | null }[];
}

/** An H200 as the real fixtures show it, with `used` MiB in use. */
export function h200(index: number, used: number): FakeGpu {
  return {
    index,
    uuid: `GPU-94da28dd-9960-55f6-1a7d-33013dde2e5${index}`,
    name: "NVIDIA H200",
    total: 143771,
    used,
    free: 143771 - 616 - used,
    reserved: 616,
    util: 0,
  };
}

/** A state file for the fake, rewritten atomically by `set`. */
export class FakeGpuState {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  static async create(state: FakeState): Promise<FakeGpuState> {
    const fake = new FakeGpuState(await Deno.makeTempFile({ suffix: ".json" }));
    await fake.set(state);
    return fake;
  }

  async set(state: FakeState): Promise<void> {
    await Deno.writeTextFile(`${this.path}.tmp`, JSON.stringify(state));
    await Deno.rename(`${this.path}.tmp`, this.path);
  }

  /** The environment that points the fake at this state. */
  get env(): Record<string, string> {
    return { FAKE_NVIDIA_SMI_STATE: this.path };
  }

  async remove(): Promise<void> {
    await Deno.remove(this.path).catch(() => {});
  }
}
