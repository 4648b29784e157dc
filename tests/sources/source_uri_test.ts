// Source URIs shown without their secrets: user info passwords and secret-looking query values.

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  parseSourceUri,
  quoteSource,
  redactSecrets,
  redactSourceText,
  redactUri,
  resolveSourceArgs,
} from "../../src/sources/source_uri.ts";

Deno.test("redactUri() hides the password of the user info, keeps the user", () => {
  assertEquals(redactUri("rtsp://admin:S3cretPass@cam/stream"), "rtsp://admin:***@cam/stream");
  assertEquals(redactUri("rtsps://a:p%40ss@10.0.0.5:322/x"), "rtsps://a:***@10.0.0.5:322/x");
  // An unencoded @ in the password: ffmpeg splits at the last one before the host.
  assertEquals(redactUri("rtsp://admin:p@ss@cam/s"), "rtsp://admin:***@cam/s");
  assertEquals(redactUri("rtsp://admin@cam/stream"), "rtsp://admin@cam/stream");
  assertEquals(redactUri("/videos/lobby.mp4"), "/videos/lobby.mp4");
  assertEquals(redactUri("synthetic:640x480@30?burst=2s@60"), "synthetic:640x480@30?burst=2s@60");
});

Deno.test("redactUri() hides secret-looking query values: password, token, key, signature, ...", () => {
  assertEquals(
    redactUri("https://cdn.example/live.m3u8?token=abc123&res=720&api_key=k&X-Amz-Signature=s"),
    "https://cdn.example/live.m3u8?token=***&res=720&api_key=***&X-Amz-Signature=***",
  );
  assertEquals(
    redactUri("rtsp://cam/s?user=admin&password=hunter2"),
    "rtsp://cam/s?user=admin&password=***",
  );
  assertEquals(
    redactUri("http://h/p?pwd=x&auth=y&session=z"),
    "http://h/p?pwd=***&auth=***&session=***",
  );
});

Deno.test("redactSourceText() scrubs ffmpeg's words: every URL in them and the URI's own secrets", () => {
  const uri = "rtsp://admin:S3cret%21Pass@10.0.0.5/stream1?token=tok-123456";
  const stderr = "[tcp @ 0x55d0c0ffee00] Connection to tcp://10.0.0.5:554 failed | " +
    "rtsp://admin:S3cret%21Pass@10.0.0.5/stream1?token=tok-123456: Connection refused | " +
    "auth S3cret!Pass rejected, token tok-123456";
  const shown = redactSourceText(stderr, uri);
  for (const secret of ["S3cret%21Pass", "S3cret!Pass", "tok-123456"]) {
    assert(!shown.includes(secret), `${secret} in ${shown}`);
  }
  assert(shown.includes("rtsp://admin:***@10.0.0.5/stream1?token=***: Connection refused"), shown);
  // Short secrets are only replaced inside URLs, not as words.
  assertEquals(redactSourceText("a b", "rtsp://u:a@h/"), "a b");
});

Deno.test("redactSecrets() leaves text without credentials as it is", () => {
  for (const text of ["stream up", "a=b c=d", "size=1280x720", "ffmpeg exited with 1"]) {
    assertEquals(redactSecrets(text), text);
  }
});

Deno.test("quoteSource() and the parse errors never quote a password", () => {
  assertEquals(
    quoteSource("cam=rtsp://admin:S3cretPass@cam/stream"),
    '"cam=rtsp://admin:***@cam/stream"',
  );
  const { problems } = resolveSourceArgs([
    { text: "a=rtmp://admin:S3cretPass@cam/live", origin: "--source x" },
    {
      text: "b=rtsp://admin:S3cretPass@cam/1",
      origin: quoteSource("b=rtsp://admin:S3cretPass@cam/1"),
    },
    {
      text: "b=rtsp://admin:S3cretPass@cam/2",
      origin: quoteSource("b=rtsp://admin:S3cretPass@cam/2"),
    },
  ]);
  assertEquals(problems.length, 2);
  for (const problem of problems) assert(!problem.includes("S3cretPass"), problem);
  assert(problems[0]!.includes('unsupported URI "rtmp://admin:***@cam/live"'), problems[0]);
  // The spec keeps the URI whole: ffmpeg needs the password.
  assertEquals(
    parseSourceUri("c", "rtsp://admin:S3cretPass@cam/1").uri,
    "rtsp://admin:S3cretPass@cam/1",
  );
});

Deno.test("parseSourceUri() answers a generator's typo with the right spelling, not as a file", () => {
  const err = assertThrows(() => parseSourceUri("b", "synthtic@30"), Error);
  assertEquals(
    err.message,
    'unknown source kind "synthtic" in "synthtic@30" (did you mean synthetic@30? a file by ' +
      "this name is ./synthtic@30)",
  );
  assertThrows(() => parseSourceUri("b", "tstsrc@5"), Error, "did you mean testsrc@5?");
  assertThrows(() => parseSourceUri("b", "Synthetik?burst=1s@60"), Error, "did you mean synthetic");
  const secret = assertThrows(() => parseSourceUri("b", "synthtic?password=hunter2"), Error);
  assert(!secret.message.includes("hunter2"), secret.message);
  // Files are files: with a path, an extension, or a name nowhere near a generator's.
  for (const file of ["./synthtic@30", "lobby@2.mp4", "cam@30", "synthetic.mp4", "synthtic"]) {
    const spec = parseSourceUri("f", file);
    assertEquals([spec.kind, spec.kind === "ffmpeg" ? spec.input : ""], ["ffmpeg", "file"], file);
  }
});
