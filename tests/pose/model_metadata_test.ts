import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { onnx } from "../../src/pose/onnx_graph.ts";
import { ModelMetadataError, readUltralyticsMetadata } from "../../src/pose/model_metadata.ts";
import { ultralyticsMetadata } from "../../scripts/gen_test_models.ts";

function withMetadata(props: Record<string, string>) {
  return onnx.ModelProto.create({
    metadataProps: Object.entries(props).map(([key, value]) => ({ key, value })),
  });
}

Deno.test("readUltralyticsMetadata() reads a default YOLO11-pose export", () => {
  const meta = readUltralyticsMetadata(withMetadata(ultralyticsMetadata()));
  assertEquals(meta, {
    task: "pose",
    kptShape: [17, 3],
    imgsz: [640, 640],
    names: ["person"],
    keypointNames: null,
    stride: 32,
    batch: 1,
    end2end: false,
    nms: false,
    half: false,
    dynamic: false,
    version: "8.3.240",
    description: "Ultralytics YOLO11n-pose model trained on coco-pose.yaml",
  });
});

Deno.test("readUltralyticsMetadata() reads end2end, args.nms, half, dynamic, kpt_names and several classes", () => {
  const e2e = readUltralyticsMetadata(withMetadata(ultralyticsMetadata({ end2end: true })))!;
  assertEquals([e2e.end2end, e2e.nms], [true, false]);
  // AutoBackend: end2end = metadata end2end or args nms.
  const nms = readUltralyticsMetadata(
    withMetadata(ultralyticsMetadata({ nms: true, dynamic: true, half: true })),
  )!;
  assertEquals([nms.end2end, nms.nms, nms.dynamic, nms.half], [true, true, true, true]);
  const animal = readUltralyticsMetadata(withMetadata({
    ...ultralyticsMetadata({ kptShape: [8, 2], names: ["cat", "dog"], imgsz: [384, 640] }),
    kpt_names: "{0: ['nose', 'tail'], 1: ['nose', 'tail']}",
  }))!;
  assertEquals(animal.kptShape, [8, 2]);
  assertEquals(animal.names, ["cat", "dog"]);
  assertEquals(animal.imgsz, [384, 640]);
  assertEquals(animal.keypointNames, ["nose", "tail"]);
});

Deno.test("readUltralyticsMetadata() is null for a model without Ultralytics' entries", () => {
  assertEquals(readUltralyticsMetadata(withMetadata({})), null);
  assertEquals(readUltralyticsMetadata(withMetadata({ producer: "mmdeploy" })), null);
});

Deno.test("readUltralyticsMetadata() refuses an unreadable entry, naming key and value", () => {
  const cases: [Record<string, string>, string][] = [
    [{ kpt_shape: "[17]" }, 'its metadata kpt_shape is "[17]": not [K, 2] or [K, 3]'],
    [{ kpt_shape: "[17, 4]" }, "not [K, 2] or [K, 3]"],
    [{ imgsz: "[640, 'x']" }, "its metadata imgsz is \"[640, 'x']\": not [height, width]"],
    [{ names: "{0: 'person'" }, "its metadata names is"],
    [{ names: "{3: 'person'}" }, "class index 3 is not within 0..0"],
    [{ task: "pose", stride: "0" }, "not a positive integer"],
    [{ task: "pose", end2end: "1" }, 'its metadata end2end is "1": not True or False'],
  ];
  for (const [props, message] of cases) {
    const err = assertThrows(
      () => readUltralyticsMetadata(withMetadata(props)),
      ModelMetadataError,
    );
    assert(err.message.includes(message), `${err.message} lacks ${message}`);
  }
});
