import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { MqttUrlError, parseMqttUrl, redactUrlText } from "../../src/mqtt/mqtt_url.ts";

Deno.test("parseMqttUrl() reads user, password, host and the scheme's default port", () => {
  const url = parseMqttUrl("mqtt://cam:s3cret@10.0.0.2");
  assertEquals(
    { ...url },
    {
      scheme: "mqtt",
      host: "10.0.0.2",
      port: 1883,
      username: "cam",
      password: "s3cret",
      display: "mqtt://cam@10.0.0.2:1883",
      broker: "mqtt://10.0.0.2:1883",
    },
  );
  assertEquals(parseMqttUrl("mqtts://broker.local").port, 8883);
  assertEquals(parseMqttUrl("MQTT://[::1]:1884/").display, "mqtt://[::1]:1884");
  assertEquals(parseMqttUrl("mqtt://a%40b:p%3Aw@h:1").username, "a@b");
  assertEquals(parseMqttUrl("mqtt://a%40b:p%3Aw@h:1").password, "p:w");
});

Deno.test("parseMqttUrl() refuses an unknown scheme, naming it and hiding the password", () => {
  const err = assertThrows(() => parseMqttUrl("amqp://u:hunter2@h:5672"), MqttUrlError, "amqp");
  assert(!err.message.includes("hunter2"), err.message);
  assert(err.message.includes("u:***@h:5672"), err.message);
});

Deno.test("parseMqttUrl() refuses a missing host, a bad port, a path and a non-URL", () => {
  assertThrows(() => parseMqttUrl("mqtt://"), MqttUrlError);
  assertThrows(() => parseMqttUrl("mqtt://h:99999"), MqttUrlError, "port 99999 is not in 1..65535");
  assertThrows(() => parseMqttUrl("mqtt://u:p@[::1]:70000"), MqttUrlError, "port 70000");
  assertThrows(() => parseMqttUrl("mqtt://h:0"), MqttUrlError, "port 0");
  assertThrows(() => parseMqttUrl("mqtt://h/topic"), MqttUrlError, "path");
  assertThrows(() => parseMqttUrl("127.0.0.1:1883"), MqttUrlError, "not a URL");
});

Deno.test("redactUrlText() hides the password of any scheme's URL", () => {
  assertEquals(redactUrlText("mqtt://u:p@h:1"), "mqtt://u:***@h:1");
  assertEquals(redactUrlText("mqtt://u@h:1"), "mqtt://u@h:1");
  assertEquals(redactUrlText("x://u:p:q@h"), "x://u:***@h");
});

Deno.test("redactUrlText() hides a password holding / or @, up to the last @ of the URL", () => {
  assertEquals(redactUrlText("mqtt://cam:top/secret@h/x"), "mqtt://cam:***@h/x");
  assertEquals(redactUrlText("mqtt://cam:top@secret@h:0"), "mqtt://cam:***@h:0");
  assertEquals(redactUrlText("mqtt://:pw@h"), "mqtt://:***@h");
  assertEquals(
    redactUrlText('bad "mqtt://a:b/c@h" and mqtts://d:e@f@g:1 end'),
    'bad "mqtt://a:***@h" and mqtts://d:***@g:1 end',
  );
  assertEquals(redactUrlText("mqtt://h:1883"), "mqtt://h:1883");
});

Deno.test("parseMqttUrl() refuses bad percent escapes and a password without a user", () => {
  for (const text of ["mqtt://cam:s3cret%zz@h", "mqtt://c%zzam:s3cret@h"]) {
    const err = assertThrows(() => parseMqttUrl(text), MqttUrlError, "percent-encoding");
    assert(!err.message.includes("s3cret"), err.message);
  }
  const err = assertThrows(() => parseMqttUrl("mqtt://:s3cretPW@h"), MqttUrlError, "no user");
  assert(!err.message.includes("s3cretPW"), err.message);
  for (const text of ["mqtt://cam:top/secret@h/x", "mqtt://cam:top@secret@h:0"]) {
    const e = assertThrows(() => parseMqttUrl(text), MqttUrlError);
    assert(!e.message.includes("secret"), e.message);
  }
});
