// A fake Grafana serving the documented answers of its HTTP API (health, datasources by uid and
// their health, search, dashboards by uid, the datasource proxy), error shapes included.

// deno-lint-ignore no-explicit-any -- dashboard JSON and API bodies are free-form
type Json = any;

/** A datasource as provisioned (config/grafana/provisioning/datasources/prometheus.yml). */
export interface FakeDatasource {
  uid: string;
  name: string;
  type: string;
  /** Where the proxy and the health check send queries. */
  url: string;
  jsonData?: Record<string, unknown>;
}

/** Options of {@linkcode FakeGrafana.start}. */
export interface FakeGrafanaOptions {
  /** Anonymous requests act as a Viewer (GF_AUTH_ANONYMOUS_ENABLED). @default {true} */
  anonymous?: boolean;
  /** @default {"admin"} */
  adminUser?: string;
  /** @default {"secret"} */
  adminPassword?: string;
  /** A service account token accepted as bearer. @default {"glsa_token"} */
  token?: string;
  /** @default {[]} */
  datasources?: FakeDatasource[];
  /** Dashboard JSONs (each with a uid and title). @default {[]} */
  dashboards?: Json[];
  /** What /api/health says of the database. @default {"ok"} */
  database?: "ok" | "failing";
}

type Role = "Admin" | "Viewer";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

const UNAUTHORIZED = { message: "Unauthorized" };
const DS_NOT_FOUND = { message: "Data source not found" };

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** A fake Grafana on a loopback port; close() stops it. */
export class FakeGrafana {
  readonly url: string;
  /** Every request's method and path with query, in order. */
  readonly requests: string[] = [];
  #server: Deno.HttpServer;
  #options: Required<FakeGrafanaOptions>;

  private constructor(options: FakeGrafanaOptions) {
    this.#options = {
      anonymous: true,
      adminUser: "admin",
      adminPassword: "secret",
      token: "glsa_token",
      datasources: [],
      dashboards: [],
      database: "ok",
      ...options,
    };
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
    this.url = `http://127.0.0.1:${(this.#server.addr as Deno.NetAddr).port}`;
  }

  /** Starts a fake Grafana. */
  static start(options: FakeGrafanaOptions = {}): FakeGrafana {
    return new FakeGrafana(options);
  }

  /** Stops it. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  /** The role of a request, or null when it is refused (401). */
  #role(req: Request): Role | null {
    const header = req.headers.get("authorization");
    if (header === null) return this.#options.anonymous ? "Viewer" : null;
    if (header === `Bearer ${this.#options.token}`) return "Admin";
    const basic = `Basic ${btoa(`${this.#options.adminUser}:${this.#options.adminPassword}`)}`;
    return header === basic ? "Admin" : null;
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const path = url.pathname;
    if (path === "/api/health") {
      const body = { commit: "a8a8e2ddc0", database: this.#options.database, version: "11.4.0" };
      return json(this.#options.database === "ok" ? 200 : 503, body);
    }
    const role = this.#role(req);
    if (role === null) return json(401, UNAUTHORIZED);
    const find = (uid: string) => this.#options.datasources.find((d) => d.uid === uid);

    let m = /^\/api\/datasources\/uid\/([^/]+)$/.exec(path);
    if (m) {
      if (role !== "Admin") {
        return json(403, {
          accessErrorId: "ACE1234567890",
          message:
            "You'll need additional permissions to perform this action. Permissions needed: datasources:read",
          title: "Access denied",
        });
      }
      const ds = find(decodeURIComponent(m[1]!));
      if (!ds) return json(404, DS_NOT_FOUND);
      return json(200, {
        id: 1,
        uid: ds.uid,
        orgId: 1,
        name: ds.name,
        type: ds.type,
        typeLogoUrl: "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
        access: "proxy",
        url: ds.url,
        user: "",
        database: "",
        basicAuth: false,
        basicAuthUser: "",
        withCredentials: false,
        isDefault: true,
        jsonData: ds.jsonData ?? {},
        secureJsonFields: {},
        version: 1,
        readOnly: true,
      });
    }
    m = /^\/api\/datasources\/uid\/([^/]+)\/health$/.exec(path);
    if (m) {
      const ds = find(decodeURIComponent(m[1]!));
      if (!ds) return json(404, DS_NOT_FOUND);
      const target = `${ds.url}/api/v1/query`;
      try {
        const res = await fetch(`${target}?query=1%2B1`);
        await res.body?.cancel();
        if (!res.ok) throw new Error(`bad response code: ${res.status}`);
        return json(200, { message: "Successfully queried the Prometheus API.", status: "OK" });
      } catch (err) {
        return json(400, {
          message: `Post "${target}": ${
            (err as Error).message
          } - There was an error returned querying the Prometheus API.`,
          status: "ERROR",
        });
      }
    }
    m = /^\/api\/datasources\/proxy\/uid\/([^/]+)(\/.*)$/.exec(path);
    if (m) {
      const ds = find(decodeURIComponent(m[1]!));
      if (!ds) return json(404, { message: "Unable to find datasource" });
      try {
        const res = await fetch(`${ds.url}${m[2]}${url.search}`);
        return new Response(await res.text(), {
          status: res.status,
          headers: { "content-type": res.headers.get("content-type") ?? "application/json" },
        });
      } catch {
        return new Response("", { status: 502 });
      }
    }
    if (path === "/api/search" || path === "/api/search/") {
      const type = url.searchParams.get("type");
      if (type !== null && type !== "dash-db") return json(200, []);
      return json(
        200,
        this.#options.dashboards.map((d, i) => ({
          id: i + 1,
          uid: d.uid,
          orgId: 1,
          title: d.title,
          uri: `db/${slug(d.title)}`,
          url: `/d/${d.uid}/${slug(d.title)}`,
          slug: "",
          type: "dash-db",
          tags: d.tags ?? [],
          isStarred: false,
          folderId: 1,
          folderUid: "pose-exporter-folder",
          folderTitle: "pose-exporter",
          folderUrl: "/dashboards/f/pose-exporter-folder/pose-exporter",
          sortMeta: 0,
        })),
      );
    }
    m = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(path);
    if (m) {
      const i = this.#options.dashboards.findIndex((d) => d.uid === decodeURIComponent(m![1]!));
      if (i < 0) return json(404, { message: "Dashboard not found" });
      const d = this.#options.dashboards[i];
      return json(200, {
        dashboard: { ...d, id: i + 1 },
        meta: {
          type: "db",
          canSave: role === "Admin",
          canEdit: role === "Admin",
          canStar: true,
          slug: slug(d.title),
          url: `/d/${d.uid}/${slug(d.title)}`,
          expires: "0001-01-01T00:00:00Z",
          created: "2026-11-25T10:00:00Z",
          updated: "2026-11-25T10:00:00Z",
          version: 1,
          folderId: 1,
          folderUid: "pose-exporter-folder",
          folderTitle: "pose-exporter",
          provisioned: true,
          provisionedExternalId: "pose-exporter.json",
        },
      });
    }
    return json(404, { message: "Not found" });
  }
}
