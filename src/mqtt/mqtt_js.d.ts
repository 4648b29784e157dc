// The part of mqtt.js 5's API the exporter uses, typed here: mqtt.js's own declarations pull in
// @types/node, whose newer node:assert overloads would replace the ones Deno ships for every
// module checked with them (tests/_assert.ts among them).

/** A publish's options. */
export interface IClientPublishOptions {
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

/** A subscription's options. */
export interface IClientSubscribeOptions {
  qos: 0 | 1 | 2;
}

/** What the broker granted for one subscription (qos 128: refused). */
export interface ISubscriptionGrant {
  topic: string;
  qos: number;
}

/** The options of a connection, as mqtt.js takes them. */
export interface IClientOptions {
  clientId?: string;
  clean?: boolean;
  protocolVersion?: 3 | 4 | 5;
  keepalive?: number;
  connectTimeout?: number;
  reconnectPeriod?: number;
  reconnectOnConnackError?: boolean;
  queueQoSZero?: boolean;
  username?: string;
  password?: string;
  ca?: string;
  rejectUnauthorized?: boolean;
  will?: { topic: string; payload: string; qos: 0 | 1 | 2; retain: boolean };
}

/** A received PUBLISH packet (the fields read here). */
export interface IPublishPacket {
  retain: boolean;
  qos: number;
}

/** An mqtt.js client. */
export interface MqttClient {
  connected: boolean;
  /** The options in use; `reconnectPeriod` is read each time a reconnect is set up. */
  options: IClientOptions;
  on(event: "connect" | "close" | "offline" | "reconnect" | "end", cb: () => void): this;
  on(event: "error", cb: (err: Error) => void): this;
  on(
    event: "message",
    cb: (topic: string, payload: Uint8Array, packet: IPublishPacket) => void,
  ): this;
  once(event: "connect" | "close", cb: () => void): this;
  once(event: "error", cb: (err: Error) => void): this;
  publish(
    topic: string,
    payload: string,
    options: IClientPublishOptions,
    cb?: (err?: Error | null) => void,
  ): this;
  publishAsync(topic: string, payload: string, options?: IClientPublishOptions): Promise<unknown>;
  subscribeAsync(topic: string, options?: IClientSubscribeOptions): Promise<ISubscriptionGrant[]>;
  end(force?: boolean, opts?: Record<string, never>, cb?: () => void): this;
  endAsync(force?: boolean): Promise<void>;
}

/** mqtt.js's default export. */
declare const mqtt: {
  connect(url: string, options?: IClientOptions): MqttClient;
  connectAsync(url: string, options?: IClientOptions): Promise<MqttClient>;
};
export default mqtt;
