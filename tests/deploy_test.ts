// deploy/: the Kubernetes manifests against the real API schemas and wired to each other, the
// generated parts fresh, and the image recipe's structure (no Docker engine here to build it).

import { parse as parseYaml, parseAllDocuments } from "yaml";
import { X509Certificate } from "node:crypto";
import { ConfigMap, Namespace, Secret, Service } from "npm:kubernetes-models@5.1.0/v1";
import { DaemonSet } from "npm:kubernetes-models@5.1.0/apps/v1";
import { NetworkPolicy } from "npm:kubernetes-models@5.1.0/networking.k8s.io/v1";
import {
  PrometheusRule,
  ServiceMonitor,
} from "npm:@kubernetes-models/prometheus-operator@6.0.0/monitoring.coreos.com/v1";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { freePort, ROOT } from "./_helpers.ts";
import { startHttpServer } from "../src/http/http_server.ts";
import { Logger } from "../src/log.ts";
import { parseConfig } from "../src/config.ts";
import { VERSION } from "../src/version.ts";
import { CUDA_BUILDS } from "../scripts/cuda_setup.ts";
import {
  DASHBOARD_CONFIGMAP_PATH,
  DASHBOARD_KEY,
  PROMETHEUS_RULE_PATH,
  renderFromRepository,
  staleFiles,
} from "../scripts/gen_deploy.ts";

const KUBE_DIR = new URL("deploy/kubernetes/", ROOT);

// deno-lint-ignore no-explicit-any -- parsed YAML documents are walked by key
type Doc = any;

/** A model class of kubernetes-models: built from a plain object, validate() throws on a bad one. */
type Model = new (data: Doc) => { validate(): void };

/** The schema of each kind the manifests use, by `apiVersion/kind`. */
const MODELS: Record<string, Model> = {
  "v1/Namespace": Namespace as Model,
  "v1/ConfigMap": ConfigMap as Model,
  "v1/Service": Service as Model,
  "apps/v1/DaemonSet": DaemonSet as Model,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as Model,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor as Model,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule as Model,
};

async function readYaml(url: URL): Promise<Doc> {
  return parseYaml(await Deno.readTextFile(url));
}

/** Every document of every file that kustomization.yaml lists, with the file it came from. */
async function loadManifests(): Promise<{ file: string; doc: Doc }[]> {
  const kustomization = await readYaml(new URL("kustomization.yaml", KUBE_DIR));
  const out: { file: string; doc: Doc }[] = [];
  for (const file of kustomization.resources as string[]) {
    const docs = parseAllDocuments(await Deno.readTextFile(new URL(file, KUBE_DIR)));
    for (const d of Array.isArray(docs) ? docs : [docs]) {
      assertEquals(d.errors.length, 0, `${file}: ${d.errors.join("; ")}`);
      out.push({ file, doc: d.toJS() });
    }
  }
  return out;
}

/** The one document of a kind (and name, when given). */
function only(manifests: { doc: Doc }[], kind: string, name?: string): Doc {
  const found = manifests.filter((m) =>
    m.doc.kind === kind && (name === undefined || m.doc.metadata.name === name)
  );
  assertEquals(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ""}`);
  return found[0]!.doc;
}

/** True when every label of `selector` is among `labels`. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The value of `--name` in `args`, written `--name=value` or `--name value`. */
function flagValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i]!.startsWith(`--${name}=`)) return args[i]!.slice(name.length + 3);
  }
  return undefined;
}

async function walkYaml(dir: URL, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    // web/ holds the Secret's files (make-secret.sh writes them), not manifests.
    if (entry.isDirectory && prefix === "" && entry.name === "web") continue;
    if (entry.isDirectory) {
      files.push(...await walkYaml(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`));
    } else if (/\.ya?ml$/.test(entry.name) && entry.name !== "kustomization.yaml") {
      files.push(prefix + entry.name);
    }
  }
  return files;
}

Deno.test("deploy - kustomization.yaml lists every manifest under deploy/kubernetes", async () => {
  const kustomization = await readYaml(new URL("kustomization.yaml", KUBE_DIR));
  assertEquals(kustomization.kind, "Kustomization");
  assertEquals([...kustomization.resources].sort(), (await walkYaml(KUBE_DIR)).sort());
});

Deno.test("deploy - every manifest validates against the Kubernetes and Prometheus Operator schemas", async () => {
  const manifests = await loadManifests();
  const kinds = new Set(manifests.map((m) => m.doc.kind));
  for (
    const kind of [
      "DaemonSet",
      "Service",
      "ServiceMonitor",
      "PrometheusRule",
      "ConfigMap",
      "NetworkPolicy",
    ]
  ) {
    assert(kinds.has(kind), `no ${kind} among the manifests`);
  }
  for (const { file, doc } of manifests) {
    const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    assert(model, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`);
    try {
      new model(doc).validate();
    } catch (err) {
      throw new Error(`${file}: ${doc.kind} ${doc.metadata?.name} is invalid: ${err}`);
    }
  }
});

Deno.test("deploy - schema validation rejects a broken DaemonSet and PrometheusRule", async () => {
  const manifests = await loadManifests();
  const ds = structuredClone(only(manifests, "DaemonSet"));
  ds.spec.template.spec.containers[0].ports[0].containerPort = "eight thousand";
  assertThrows(() => new DaemonSet(ds).validate(), Error, "containerPort");
  const rule = structuredClone(only(manifests, "PrometheusRule"));
  rule.spec.groups[1].rules[0].for = "1 minute";
  assertThrows(() => new PrometheusRule(rule).validate(), Error, "for");
});

Deno.test("deploy - generated manifests are what deno task gen-deploy writes from config/", async () => {
  const files = await renderFromRepository(ROOT);
  assertEquals(Object.keys(files).sort(), [DASHBOARD_CONFIGMAP_PATH, PROMETHEUS_RULE_PATH].sort());
  assertEquals(
    await staleFiles(ROOT, files),
    [],
    "stale generated manifests: run deno task gen-deploy",
  );
  // The check sees a change: an alerts.yml edit that was not regenerated is reported.
  const edited = { ...files, [PROMETHEUS_RULE_PATH]: files[PROMETHEUS_RULE_PATH] + "# edit\n" };
  assertEquals(await staleFiles(ROOT, edited), [PROMETHEUS_RULE_PATH]);
});

Deno.test("deploy - the PrometheusRule's groups equal config/alerts.yml's and pass promtool", async () => {
  const rule = only(await loadManifests(), "PrometheusRule");
  const alerts = await readYaml(new URL("config/alerts.yml", ROOT));
  assertEquals(rule.spec.groups, alerts.groups);
  const dir = await Deno.makeTempDir({ prefix: "pose_deploy_rules_" });
  try {
    const path = `${dir}/rules.yml`;
    await Deno.writeTextFile(path, JSON.stringify({ groups: rule.spec.groups }));
    const out = await new Deno.Command("promtool", {
      args: ["check", "rules", path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.success, text);
    assert(/SUCCESS: \d+ rules found/.test(text), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploy - the dashboard ConfigMap carries config/grafana_dashboard.json unchanged for Grafana's sidecar", async () => {
  const cm = only(await loadManifests(), "ConfigMap", "pose-exporter-dashboard");
  assertEquals(cm.metadata.labels.grafana_dashboard, "1");
  assertEquals(Object.keys(cm.data), [DASHBOARD_KEY]);
  assertEquals(
    cm.data[DASHBOARD_KEY],
    await Deno.readTextFile(new URL("config/grafana_dashboard.json", ROOT)),
  );
});

Deno.test("deploy - the DaemonSet runs on GPU nodes with one GPU, probes, requests and a locked-down container", async () => {
  const manifests = await loadManifests();
  const ds = only(manifests, "DaemonSet");
  const pod = ds.spec.template.spec;
  assert(selects(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels));
  assertEquals(pod.nodeSelector["nvidia.com/gpu.present"], "true");
  assert(
    pod.tolerations.some((t: Doc) => t.key === "nvidia.com/gpu" && t.operator === "Exists"),
    "no toleration of the nvidia.com/gpu taint",
  );
  assertEquals(pod.containers.length, 1);
  const c = pod.containers[0];
  assertEquals(c.resources.limits["nvidia.com/gpu"], 1);
  assertEquals(c.resources.requests["nvidia.com/gpu"] ?? 1, 1);
  assert(c.resources.requests.cpu && c.resources.requests.memory, "cpu and memory requests");
  assertEquals(c.ports, [{ name: "metrics", containerPort: 8000, protocol: "TCP" }]);
  // The probes log in through healthcheck: every endpoint asks for the login.
  for (
    const [probe, path] of [["startupProbe", "/healthz"], ["livenessProbe", "/healthz"], [
      "readinessProbe",
      "/readyz",
    ]]
  ) {
    const command: string[] = c[probe!].exec.command;
    assertEquals(command.slice(0, 2), ["/app/pose-exporter", "healthcheck"], probe);
    assertEquals(flagValue(command, "url"), `https://127.0.0.1:8000${path}`, probe);
    assert(c[probe!].timeoutSeconds >= 3, `${probe} gives the binary time to start`);
  }
  // The device plugin chooses the GPU; setting NVIDIA_VISIBLE_DEVICES would bypass it.
  assert(!(c.env ?? []).some((e: Doc) => e.name === "NVIDIA_VISIBLE_DEVICES"));
  assertEquals(pod.securityContext.runAsNonRoot, true);
  assert(pod.securityContext.runAsUser > 0);
  assertEquals(c.securityContext.readOnlyRootFilesystem, true);
  assertEquals(c.securityContext.allowPrivilegeEscalation, false);
  assertEquals(c.securityContext.capabilities.drop, ["ALL"]);
  const volumes = new Map(pod.volumes.map((v: Doc) => [v.name, v]));
  const mountAt = (path: string) => c.volumeMounts.find((m: Doc) => m.mountPath === path);
  // A writable volume for results, and a writable /tmp, on a read-only root filesystem.
  for (const path of ["/data", "/tmp"]) {
    const mount = mountAt(path);
    assert(mount && !mount.readOnly, `no writable volume at ${path}`);
    assert((volumes.get(mount.name) as Doc).emptyDir, `${path} is not an emptyDir`);
  }
});

Deno.test("deploy - the DaemonSet's flags pass the exporter's own parser and match the pod", async () => {
  const manifests = await loadManifests();
  const c = only(manifests, "DaemonSet").spec.template.spec.containers[0];
  const pod = only(manifests, "DaemonSet").spec.template.spec;
  assertEquals(c.command, undefined, "the image's ENTRYPOINT runs the exporter");
  const args: string[] = c.args;
  const env = Object.fromEntries((c.env ?? []).map((e: Doc) => [e.name, e.value]));
  const config = parseConfig(args, env);
  assertEquals(config.web.listen.port, c.ports[0].containerPort);
  assertEquals(config.model.provider, "cuda");
  assertEquals(config.model.deviceId, 0, "the pod's one GPU is device 0");
  // The sources file comes from the sources ConfigMap, mounted as a folder (no subPath, so the
  // kubelet's updates reach it).
  const sourcesFile = flagValue(args, "sources-file");
  assert(sourcesFile, "no --sources-file");
  const dir = sourcesFile.replace(/\/[^/]+$/, "");
  const mount = c.volumeMounts.find((m: Doc) => m.mountPath === dir);
  assert(mount && mount.subPath === undefined, `no folder mount at ${dir}`);
  const volume = pod.volumes.find((v: Doc) => v.name === mount.name);
  const sources = only(manifests, "ConfigMap", volume.configMap.name);
  assert(sourcesFile.slice(dir.length + 1) in sources.data, `${sourcesFile} not in the ConfigMap`);
  const results = flagValue(args, "results");
  if (results !== undefined) assert(results.startsWith("/data/"), "--results off /data");
});

Deno.test("deploy - every source in the sources ConfigMap is one the exporter accepts", async () => {
  const cm = only(await loadManifests(), "ConfigMap", "pose-exporter-sources");
  const lines = (cm.data["sources.txt"] as string).split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  assert(lines.length > 0, "no source in sources.txt");
  for (const line of lines) parseConfig(["--source", line]);
});

Deno.test("deploy - Prometheus scrapes the pods as job pose-exporter and only Prometheus reaches port 8000", async () => {
  const manifests = await loadManifests();
  const pod = only(manifests, "DaemonSet").spec.template;
  const service = only(manifests, "Service");
  const monitor = only(manifests, "ServiceMonitor");
  const policy = only(manifests, "NetworkPolicy");
  // The job label is the Service's name; PoseExporterDown selects it.
  const alerts = await Deno.readTextFile(new URL("config/alerts.yml", ROOT));
  assert(alerts.includes(`up{job="${service.metadata.name}"}`), "alerts.yml's job differs");
  assert(selects(service.spec.selector, pod.metadata.labels), "the Service selects no pod");
  assertEquals(service.spec.ports, [
    { name: "metrics", port: 8000, targetPort: "metrics", protocol: "TCP" },
  ]);
  assert(selects(monitor.spec.selector.matchLabels, service.metadata.labels));
  assertEquals(monitor.spec.endpoints.map((e: Doc) => [e.port, e.path]), [["metrics", "/metrics"]]);
  // The PrometheusRule and ServiceMonitor carry the same selector label for the Prometheus.
  const rule = only(manifests, "PrometheusRule");
  assertEquals(rule.metadata.labels.release, monitor.metadata.labels.release);
  assert(selects(policy.spec.podSelector.matchLabels, pod.metadata.labels));
  // Copies of the DaemonSet for more GPUs per node differ in gpu-slot: all are scraped and reachable.
  for (const selector of [service.spec.selector, policy.spec.podSelector.matchLabels]) {
    assert(!("pose-exporter/gpu-slot" in selector), "a selector leaves out other GPU slots");
  }
  assertEquals(policy.spec.policyTypes, ["Ingress"]);
  for (const rule of policy.spec.ingress) {
    assertEquals(rule.ports, [{ protocol: "TCP", port: 8000 }]);
    for (const peer of rule.from) {
      assertEquals(peer.podSelector?.matchLabels, { "app.kubernetes.io/name": "prometheus" });
      assertEquals(peer.ipBlock, undefined);
    }
  }
});

/** A Dockerfile instruction: its keyword and the rest of the line, continuations joined. */
interface Instruction {
  keyword: string;
  rest: string;
}

function parseDockerfile(text: string): Instruction[] {
  const joined = text.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n")
    .replace(/\\\n/g, " ");
  return joined.split("\n").map((l) => l.trim()).filter((l) => l !== "").map((l) => {
    const [keyword, ...rest] = l.split(/\s+/);
    return { keyword: keyword!.toUpperCase(), rest: rest.join(" ") };
  });
}

Deno.test("deploy - the Dockerfile: pinned CUDA base matching cuda-setup, non-root, port, healthcheck, entrypoint", async () => {
  const manifests = await loadManifests();
  const ds = only(manifests, "DaemonSet");
  const steps = parseDockerfile(await Deno.readTextFile(new URL("deploy/Dockerfile", ROOT)));
  const froms = steps.filter((s) => s.keyword === "FROM").map((s) => s.rest.split(" ")[0]!);
  for (const image of froms) {
    assert(/^[^:@]+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/.test(image), `${image} is not pinned`);
    assert(!image.endsWith(":latest"), `${image} is not pinned`);
  }
  // The runtime base's CUDA major is the one cuda-setup installs the provider for.
  const base = /^nvidia\/cuda:(\d+)\.\d+\.\d+-cudnn-runtime-ubuntu[\d.]+$/.exec(froms.at(-1)!);
  assert(base, `the runtime base ${froms.at(-1)} is not an nvidia/cuda cudnn-runtime image`);
  const runs = steps.filter((s) => s.keyword === "RUN").map((s) => s.rest);
  const setup = runs.map((r) => /deno task cuda-setup .*--cuda (\d+)/.exec(r)).find((m) => m);
  assert(setup, "no deno task cuda-setup --cuda N");
  assertEquals(setup[1], base[1]);
  assert(Number(base[1]) in CUDA_BUILDS, `cuda-setup has no CUDA ${base[1]} build`);
  assert(runs.some((r) => r.includes("deno task compile")), "no deno task compile");
  const runtime = steps.slice(steps.findLastIndex((s) => s.keyword === "FROM"));
  assert(runtime.some((s) => s.keyword === "RUN" && /apt-get install .*ffmpeg/.test(s.rest)));
  // The embedded files are extracted at build time, before the switch to the unprivileged user.
  const extract = runtime.findIndex((s) => s.keyword === "RUN" && s.rest.startsWith("/app/"));
  const user = runtime.findIndex((s) => s.keyword === "USER");
  assert(extract >= 0 && extract < user, "the binary does not run once before USER");
  const uid = Number(runtime[user]!.rest.split(":")[0]);
  assert(uid > 0, "USER is root");
  assertEquals(uid, ds.spec.template.spec.securityContext.runAsUser);
  const exposed = steps.filter((s) => s.keyword === "EXPOSE").map((s) => s.rest);
  assertEquals(exposed, [String(ds.spec.template.spec.containers[0].ports[0].containerPort)]);
  const last = (keyword: string) => steps.findLast((s) => s.keyword === keyword)!.rest;
  assertEquals(JSON.parse(last("ENTRYPOINT")), ["/app/pose-exporter"]);
  const health = /CMD (\[.*\])$/.exec(last("HEALTHCHECK"));
  assert(health, "HEALTHCHECK has no exec-form CMD");
  assertEquals(JSON.parse(health[1]!).slice(0, 2), ["/app/pose-exporter", "healthcheck"]);
  parseConfig(JSON.parse(last("CMD")));
});

Deno.test("deploy - the image tag is the exporter's version", async () => {
  const manifests = await loadManifests();
  const image: string = only(manifests, "DaemonSet").spec.template.spec.containers[0].image;
  assertEquals(image, `pose-exporter:${VERSION}`);
  const kustomization = await readYaml(new URL("kustomization.yaml", KUBE_DIR));
  assertEquals(kustomization.images, [{ name: "pose-exporter", newTag: VERSION }]);
});

function hasKubectl(): boolean {
  try {
    return new Deno.Command("kubectl", {
      args: ["version", "--client"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().success;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

Deno.test({
  name: "deploy - kubectl kustomize builds the same objects, all in namespace pose-exporter",
  ignore: !hasKubectl(),
  async fn() {
    // A copy, with the Secret's files made, so that the secretGenerator has them.
    const copy = await Deno.makeTempDir({ prefix: "pose_kustomize_" });
    let built;
    try {
      await new Deno.Command("cp", { args: ["-r", `${KUBE_DIR.pathname}.`, copy] }).output();
      await makeSecretFiles(`${copy}/web`);
      const out = await new Deno.Command("kubectl", {
        args: ["kustomize", copy],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      built = parseAllDocuments(new TextDecoder().decode(out.stdout));
    } finally {
      await Deno.remove(copy, { recursive: true });
    }
    const docs: Doc[] = (Array.isArray(built) ? built : [built]).map((d) => d.toJS());
    const key = (d: Doc) => `${d.kind}/${d.metadata.name}`;
    assertEquals(
      docs.map(key).sort(),
      [...(await loadManifests()).map((m) => key(m.doc)), "Secret/pose-exporter-web"].sort(),
    );
    for (const d of docs.filter((d) => d.kind !== "Namespace")) {
      assertEquals(d.metadata.namespace, "pose-exporter", key(d));
    }
    const ds = docs.find((d) => d.kind === "DaemonSet");
    assertEquals(ds.spec.template.spec.containers[0].image, `pose-exporter:${VERSION}`);
  },
});

/** Runs web/make-secret.sh into `dir`. */
async function makeSecretFiles(dir: string): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: [new URL("web/make-secret.sh", KUBE_DIR).pathname, dir],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

/** The Secret the kustomization's secretGenerator makes from the files in `dir`. */
async function generatedSecret(dir: string): Promise<Doc> {
  const kustomization = await readYaml(new URL("kustomization.yaml", KUBE_DIR));
  assertEquals(kustomization.secretGenerator.length, 1);
  const generator = kustomization.secretGenerator[0];
  assertEquals(
    kustomization.generatorOptions?.disableNameSuffixHash,
    true,
    "names stay as written",
  );
  const data: Record<string, string> = {};
  for (const file of generator.files as string[]) {
    assert(file.startsWith("web/"), file);
    const bytes = await Deno.readFile(`${dir}/${file.slice(4)}`);
    data[file.slice(file.lastIndexOf("/") + 1)] = btoa(String.fromCharCode(...bytes));
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: generator.name },
    type: "Opaque",
    data,
  };
}

Deno.test("deploy - the pose-exporter-web Secret: generated from make-secret.sh's files, mounted by the DaemonSet, read by the ServiceMonitor", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_web_secret_" });
  try {
    await makeSecretFiles(dir);
    const secret = await generatedSecret(dir);
    new Secret(secret).validate();
    const keys = Object.keys(secret.data);
    const manifests = await loadManifests();
    const pod = only(manifests, "DaemonSet").spec.template.spec;
    const c = pod.containers[0];
    const volume = pod.volumes.find((v: Doc) => v.secret?.secretName === secret.metadata.name);
    assert(volume, "no volume of the Secret");
    assertEquals(volume.secret.items, undefined, "the whole Secret, so that updates reach it");
    const mount = c.volumeMounts.find((m: Doc) => m.name === volume.name);
    assert(mount.readOnly && mount.subPath === undefined, "a read-only folder mount");
    const inMount = (path: string | undefined) => {
      assert(
        path !== undefined && path.startsWith(`${mount.mountPath}/`),
        `${path} is not in ${mount.mountPath}`,
      );
      assert(keys.includes(path.slice(mount.mountPath.length + 1)), `${path}: no such key`);
    };
    inMount(flagValue(c.args, "web-config-file"));
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
      inMount(flagValue(probe.exec.command, "ca-file"));
      inMount(flagValue(probe.exec.command, "password-file"));
      assertEquals(
        flagValue(probe.exec.command, "user"),
        await Deno.readTextFile(`${dir}/username`),
      );
    }
    const endpoint = only(manifests, "ServiceMonitor").spec.endpoints[0];
    assertEquals(endpoint.scheme, "https");
    for (
      const ref of [
        endpoint.tlsConfig.ca.secret,
        endpoint.basicAuth.username,
        endpoint.basicAuth.password,
      ]
    ) {
      assertEquals(ref.name, secret.metadata.name);
      assert(keys.includes(ref.key), ref.key);
    }
    // Pods are scraped by IP and verified by the Service's name, which the certificate carries.
    const cert = new X509Certificate(await Deno.readTextFile(`${dir}/tls.crt`));
    assertEquals(cert.checkHost(endpoint.tlsConfig.serverName), endpoint.tlsConfig.serverName);
    assert(cert.checkIP("127.0.0.1"), "the probes ask 127.0.0.1");
    assert(cert.verify(new X509Certificate(await Deno.readTextFile(`${dir}/ca.crt`)).publicKey));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploy - the DaemonSet's probes log in to an exporter serving make-secret.sh's web config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_web_probe_" });
  const lines: string[] = [];
  try {
    await makeSecretFiles(dir);
    const c = only(await loadManifests(), "DaemonSet").spec.template.spec.containers[0];
    const mountPath = "/etc/pose-exporter-web";
    const port = freePort();
    const server = startHttpServer({
      hostname: "127.0.0.1",
      port,
      maxConnections: 8,
      headerTimeoutMs: 2000,
      idleTimeoutMs: 5000,
      log: new Logger({ writer: { writeLine: (l) => lines.push(l) } }),
      webConfigFile: flagValue(c.args, "web-config-file")!.replace(mountPath, dir),
    }, () => Promise.resolve(new Response("ok\n")));
    try {
      for (const probe of [c.livenessProbe, c.readinessProbe]) {
        const [, ...args] = (probe.exec.command as string[]).map((a) =>
          a.replace(mountPath, dir).replace("127.0.0.1:8000", `127.0.0.1:${port}`)
        );
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", new URL("main.ts", ROOT).pathname, ...args],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assertEquals(out.code, 0, text);
        assert(text.includes("200 OK"), text);
      }
      const anonymous = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("main.ts", ROOT).pathname,
          "healthcheck",
          "--url",
          `https://127.0.0.1:${port}/healthz`,
          "--ca-file",
          `${dir}/ca.crt`,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assertEquals(
        anonymous.code,
        1,
        "without the login the probe fails: the endpoint is protected",
      );
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
