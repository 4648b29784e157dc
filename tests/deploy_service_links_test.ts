// The DaemonSet keeps Kubernetes' service-link variables (POSE_EXPORTER_SERVICE_HOST, ...) out of
// the pod: they would read as the exporter's own settings.

import { parse } from "yaml";
import { assertEquals } from "./_assert.ts";
import { ROOT } from "./_helpers.ts";

Deno.test("deploy - the DaemonSet turns service links off", async () => {
  const daemonSet = parse(
    await Deno.readTextFile(new URL("deploy/kubernetes/daemonset.yaml", ROOT)),
  );
  assertEquals(daemonSet.spec.template.spec.enableServiceLinks, false);
});
