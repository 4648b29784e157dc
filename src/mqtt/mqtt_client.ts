// mqtt.js, imported once with the exporter's own declarations of the API it uses (see
// mqtt_js.d.ts for why not mqtt.js's own).

// @ts-types="./mqtt_js.d.ts"
import mqtt from "mqtt";

export type { IClientOptions, IClientPublishOptions, MqttClient } from "./mqtt_js.d.ts";

/** mqtt.js's `connect` and `connectAsync`. */
export const mqttJs: typeof mqtt = mqtt;
