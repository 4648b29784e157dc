// A pipe reader thread: reads the frames of a few ffmpeg streams from their FIFOs with read(2)
// straight into shared frame slots, waiting on all of them at once with poll(2). The main event
// loop never sees a pixel; it takes a few numbers per frame from a shared ring when it decides on
// a batch, and is woken only when the batcher's demand is met (frame_handover.ts).
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { FrameRing, HandoverDemand } from "./frame_handover.ts";
import { FrameSlots } from "./frame_slots.ts";
import {
  cPath,
  EAGAIN,
  EINTR,
  errno,
  F_SETPIPE_SZ,
  FIONREAD,
  monotonicMs,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  pipeLibc,
  POLLIN,
} from "./pipe_libc.ts";
import type { PipeReaderReply, PipeReaderRequest } from "./pipe_reader_protocol.ts";
import { nameThread } from "../host/libc.ts";
import { THREAD_NAMES } from "../host/thread_cpu.ts";

/** One stream read by this thread. */
interface Reading {
  key: number;
  fd: number;
  slots: FrameSlots;
  /** The slots' memory, as a pointer for read(2). */
  base: Deno.PointerValue;
  frameBytes: number;
  /** The slot being filled, or -1. */
  slot: number;
  filled: number;
  /** Monotonic ms when the frame being filled got its first byte. */
  startedAt: number;
  /** When the frame in the slot was completed (its last byte read). */
  finishedAt: number;
  draining: boolean;
}

/** Frames read from one pipe in one round at most, so that one busy stream does not starve. */
const FRAMES_PER_ROUND = 2;
/** poll(2)'s wait while a stream waits for a free slot (slots are freed without a message). */
const SLOT_WAIT_MS = 5;
/**
 * ffmpeg writes a frame in 32 KiB writes, each of which would wake poll(2): a frame begun but
 * not yet whole in the pipe is given this long to arrive, a few times, before it is read.
 */
const GATHER_MS = 1;
const GATHER_TRIES = 4;
/**
 * Frames wait in the ring until the main thread takes them (it does whenever it decides on a
 * batch) or asks for them (the batcher's demand); one that has waited this long wakes it anyway,
 * so that a stream's frames reach its queue (and its drop-oldest) while every lane is busy.
 */
const HOLD_MS = 40;

const c = pipeLibc();
if (c === null) throw new Error("Cannot start a pipe reader: the C library cannot be loaded");
const libc = c;
// Its CPU is told apart from the inference worker's in the per-thread figures.
nameThread(THREAD_NAMES.reader);
/** The eventfd the main thread writes after each message (set by `init`). */
let wakeFd = -1;
/** Messages the main thread sent, counted there (shared), and those handled here. */
let sent: Int32Array<ArrayBufferLike> = new Int32Array(1);
let handled = 0;
const wakeWord = new BigUint64Array(1);
const waiting = new Int32Array(1);
const readings = new Map<number, Reading>();
/** Where completed frames go (set by `init`), and the main thread's demand for them. */
let ring: FrameRing | null = null;
let demand: HandoverDemand | null = null;
/** Monotonic ms of the last wake-up posted, so that a wait posts one per HOLD_MS at most. */
let wokenAt = -Infinity;
/** Whether a frame handed over this round met the demand. */
let demandMet = false;
let running = true;

function reply(message: PipeReaderReply): void {
  self.postMessage(message);
}

/** Lets the thread's event loop hand over the messages the main thread has sent. */
async function takeMessages(): Promise<void> {
  for (let i = 0; i < 100 && handled < Atomics.load(sent, 0); i++) await sleep(0);
}

/** Whether `reading`'s pipe holds fewer bytes than the frame being read still needs. */
function partial(reading: Reading): boolean {
  if (libc.ioctl(reading.fd, BigInt(FIONREAD), new Uint8Array(waiting.buffer)) !== 0) return false;
  return waiting[0]! > 0 && waiting[0]! < reading.frameBytes - reading.filled;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The process's monotonic clock (ms), the one the main thread converts frame times from. */
function clockNow(): number {
  return monotonicMs(libc);
}

function attach(request: Extract<PipeReaderRequest, { type: "attach" }>): void {
  const fd = libc.open(cPath(request.path), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    reply({
      type: "failed",
      key: request.key,
      message: `Cannot open the frame FIFO ${request.path}: errno ${errno(libc)}`,
    });
    return;
  }
  // A frame per read where the system allows it (a pipe holds 64 KiB by default).
  let pipeBytes = libc.fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  if (pipeBytes < 0) pipeBytes = libc.fcntl(fd, F_SETPIPE_SZ, 1 << 18);
  const slots = FrameSlots.from(request.slots, request.count, request.slotBytes);
  readings.set(request.key, {
    key: request.key,
    fd,
    slots,
    base: Deno.UnsafePointer.of(new Uint8Array(request.slots)),
    frameBytes: request.frameBytes,
    slot: -1,
    filled: 0,
    startedAt: 0,
    finishedAt: 0,
    draining: false,
  });
  reply({ type: "opened", key: request.key, pipeBytes: Math.max(0, pipeBytes) });
}

/** Wakes the main thread to take the ring's frames. */
function wake(): void {
  wokenAt = clockNow();
  demandMet = false;
  reply({ type: "wake" });
}

function close(reading: Reading): void {
  // Its frames are in the ring, which the main thread empties before it hears the pipe is closed.
  readings.delete(reading.key);
  libc.close(reading.fd);
  if (reading.slot >= 0) reading.slots.release(reading.slot);
  reply({ type: "closed", key: reading.key });
}

/**
 * Reads what `reading`'s pipe holds, up to {@linkcode FRAMES_PER_ROUND} frames.
 *
 * @returns "empty" when the pipe had no more bytes, "slots" when no slot was free, "more"
 *   when it stopped at the round's limit, "error" when the read failed
 */
function readPipe(reading: Reading): "empty" | "slots" | "more" | "error" {
  let frames = 0;
  while (frames < FRAMES_PER_ROUND) {
    // A frame completed while the ring was full waits in its slot for room.
    if (complete(reading) && !handOver(reading)) return "slots";
    if (reading.slot < 0) {
      if (ring!.full) return "slots";
      reading.slot = reading.slots.acquire();
      if (reading.slot < 0) return "slots";
      reading.filled = 0;
    }
    const at = reading.slots.offset(reading.slot) + reading.filled;
    const want = reading.frameBytes - reading.filled;
    const n = Number(
      libc.read(reading.fd, Deno.UnsafePointer.offset(reading.base!, at), BigInt(want)),
    );
    if (n < 0) {
      const code = errno(libc);
      if (code === EAGAIN) return "empty";
      if (code === EINTR) continue;
      return "error";
    }
    // Never 0: this thread holds the FIFO open for writing too, so it has no end of file.
    if (reading.filled === 0) reading.startedAt = clockNow();
    reading.filled += n;
    if (reading.filled < reading.frameBytes) continue;
    reading.finishedAt = clockNow();
    reading.slots.fill(reading.slot);
    if (!handOver(reading)) return "slots";
    frames++;
  }
  return "more";
}

/** Whether `reading`'s slot holds a whole frame not yet handed over. */
function complete(reading: Reading): boolean {
  return reading.slot >= 0 && reading.filled === reading.frameBytes;
}

/**
 * Hands `reading`'s completed frame over through the ring.
 *
 * @returns false when the ring is full (the frame stays in its slot, complete)
 */
function handOver(reading: Reading): boolean {
  if (ring!.full) return false;
  ring!.push(reading.key, reading.slot, reading.finishedAt, reading.finishedAt - reading.startedAt);
  if (demand!.handedOver()) demandMet = true;
  reading.slot = -1;
  reading.filled = 0;
  return true;
}

async function loop(): Promise<void> {
  let fds = new Uint8Array(0);
  let order: Reading[] = [];
  let waitMs = 1000;
  while (running) {
    // Frames completed while the ring was full go first, as soon as it has room again.
    for (const r of readings.values()) if (complete(r)) handOver(r);
    // Streams waiting for a free slot (or for room in the ring) are left out of the poll and
    // looked at again soon.
    const ringFull = ring!.full;
    order = [...readings.values()].filter((r) =>
      ringFull ? r.slot >= 0 && !complete(r) : r.slot >= 0 || r.slots.hasFree()
    );
    waitMs = order.length < readings.size ? SLOT_WAIT_MS : 1000;
    // A draining stream is read to its end without waiting (for a slot, it waits as others do).
    for (const r of order) if (r.draining) waitMs = 0;
    if (fds.length < (order.length + 1) * 8) fds = new Uint8Array((order.length + 1) * 16);
    const view = new DataView(fds.buffer);
    view.setInt32(0, wakeFd, true);
    view.setInt16(4, POLLIN, true);
    view.setInt16(6, 0, true);
    order.forEach((r, i) => {
      view.setInt32((i + 1) * 8, r.fd, true);
      view.setInt16((i + 1) * 8 + 4, POLLIN, true);
      view.setInt16((i + 1) * 8 + 6, 0, true);
    });
    // Frames in the ring wake the main thread by their deadline at the latest: the ask's age
    // limit (the batch timeout) or the hold.
    const oldest = ring!.oldestFinishedAt();
    const holdUntil = Math.min(Math.max(oldest, wokenAt) + HOLD_MS, oldest + demand!.maxAgeMs);
    if (Number.isFinite(holdUntil)) {
      waitMs = Math.max(0, Math.min(waitMs, Math.ceil(holdUntil - clockNow())));
    }
    libc.poll(fds, BigInt(order.length + 1), waitMs);
    if (view.getInt16(6, true) !== 0) libc.readInto(wakeFd, new Uint8Array(wakeWord.buffer), 8n);
    if (handled < Atomics.load(sent, 0)) {
      await takeMessages();
      // The entries may be stale (a stream detached, re-attached): poll again.
      if (view.getInt16(6, true) !== 0) continue;
    }
    for (let tries = 0; tries < GATHER_TRIES; tries++) {
      let gathering = false;
      for (let i = 0; i < order.length && !gathering; i++) {
        if (view.getInt16((i + 1) * 8 + 6, true) !== 0) gathering = partial(order[i]!);
      }
      if (!gathering) break;
      await sleep(GATHER_MS);
    }
    for (const reading of readings.values()) {
      // A stream detached or re-attached while poll waited is not read with a stale entry.
      const i = order.indexOf(reading);
      const ready = i >= 0 && view.getInt16((i + 1) * 8 + 6, true) !== 0;
      if (!ready && !reading.draining) continue;
      const outcome = readPipe(reading);
      if (outcome === "error" || (reading.draining && outcome === "empty")) close(reading);
    }
    if (demandMet) {
      wake();
    } else if (ring!.size > 0) {
      // Frames that waited too long, or that hold the slots (or the ring) a stream needs to read
      // on, are taken only once the main thread hears of them.
      const now = clockNow();
      const stuck = ring!.full || order.length < readings.size;
      const oldestAt = ring!.oldestFinishedAt();
      const since = Math.max(oldestAt, wokenAt);
      if (
        demand!.overdue(oldestAt, now) || now - since >= HOLD_MS ||
        (stuck && now - wokenAt >= SLOT_WAIT_MS)
      ) wake();
    }
  }
}

self.onmessage = (event: MessageEvent<PipeReaderRequest>) => {
  const request = event.data;
  handled++;
  switch (request.type) {
    case "init":
      wakeFd = request.wakeFd;
      sent = new Int32Array(request.sent);
      ring = FrameRing.from(request.ring);
      demand = HandoverDemand.from(request.demand);
      void loop();
      break;
    case "attach":
      attach(request);
      break;
    case "drain": {
      const reading = readings.get(request.key);
      if (reading) reading.draining = true;
      else reply({ type: "closed", key: request.key });
      break;
    }
    case "detach": {
      const reading = readings.get(request.key);
      if (reading) close(reading);
      else reply({ type: "closed", key: request.key });
      break;
    }
  }
};

self.addEventListener("unload", () => {
  running = false;
});
