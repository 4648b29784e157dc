// The live view's script, embedded so the binary serves it offline: plain fetch polling of the
// streams' state and of each tile's snapshot packet, drawn on a canvas with the skeletons.

/** JavaScript of the live view page (no framework, no build step). */
export const LIVE_VIEW_SCRIPT = String.raw`"use strict";
(function () {
  var config = JSON.parse(document.getElementById("live-config").textContent);
  var grid = document.querySelector("main.grid");
  var template = document.getElementById("tile-template");
  var STATE_INTERVAL_MS = 500;
  var STATE_TIMEOUT_MS = 4000;
  var tiles = new Map();
  var connected = true;

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function field(tile, name) { return tile.el.querySelector('[data-field="' + name + '"]'); }

  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }

  function fmt(value, digits, unit) {
    if (value === null || value === undefined || !isFinite(value)) return "\u2014";
    return value.toFixed(digits) + (unit || "");
  }

  function setConnection(ok) {
    if (ok === connected) return;
    connected = ok;
    document.body.dataset.connection = ok ? "live" : "lost";
    setText(document.querySelector('[data-field="connection"]'), ok ? "live" : "connection lost");
  }

  function adopt(el) {
    var tile = {
      id: el.dataset.streamId,
      el: el,
      canvas: el.querySelector("canvas"),
      view: el.querySelector(".view"),
      token: 0,
      packet: null,
      picture: null,
      image: null,
      sourceKey: "",
      state: el.dataset.state,
      hasPicture: false,
    };
    el.addEventListener("click", function () { toggleEnlarged(tile); });
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggleEnlarged(tile); }
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () { if (tile.packet) draw(tile); }).observe(tile.view);
    }
    tiles.set(tile.id, tile);
    pollSnapshots(tile);
    return tile;
  }

  function toggleEnlarged(tile) {
    var on = !tile.el.classList.contains("enlarged");
    tiles.forEach(function (t) { t.el.classList.remove("enlarged"); });
    if (on) tile.el.classList.add("enlarged");
    document.body.classList.toggle("has-enlarged", on);
  }

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      tiles.forEach(function (t) { t.el.classList.remove("enlarged"); });
      document.body.classList.remove("has-enlarged");
    }
  });

  function createTile(info) {
    var el = template.content.firstElementChild.cloneNode(true);
    el.dataset.streamId = info.id;
    setText(el.querySelector('[data-field="id"]'), info.id);
    grid.insertBefore(el, grid.querySelector(".empty"));
    return adopt(el);
  }

  function overlayText(tile, info) {
    if (info.state === "up") return tile.hasPicture ? "" : "waiting for a picture\u2026";
    var why = info.reason ? info.reason : "";
    if (info.state === "down") return "down" + (why ? ": " + why : "");
    if (info.state === "retrying") return "retrying" + (why ? " after: " + why : "");
    return info.state + (why ? ": " + why : "");
  }

  function update(tile, info) {
    tile.state = info.state;
    tile.info = info;
    if (tile.el.dataset.state !== info.state) tile.el.dataset.state = info.state;
    setText(field(tile, "state"), info.state);
    setText(field(tile, "decoder"), info.decoder || "");
    setText(field(tile, "fps"), fmt(info.fps, 1));
    setText(field(tile, "p50"), fmt(info.p50Ms, 1, " ms"));
    setText(field(tile, "p99"), fmt(info.p99Ms, 1, " ms"));
    setText(field(tile, "persons"), String(info.persons));
    setText(field(tile, "overlay"), overlayText(tile, info));
  }

  async function pollState() {
    while (true) {
      var started = performance.now();
      try {
        var res = await fetch("/live/state", { cache: "no-store", signal: AbortSignal.timeout(STATE_TIMEOUT_MS) });
        if (!res.ok) throw new Error("state answered " + res.status);
        var state = await res.json();
        setConnection(true);
        var seen = new Set();
        state.streams.forEach(function (info) {
          seen.add(info.id);
          var tile = tiles.get(info.id) || createTile(info);
          update(tile, info);
        });
        tiles.forEach(function (tile, id) {
          if (!seen.has(id)) { tiles.delete(id); tile.el.remove(); }
        });
        grid.dataset.count = String(tiles.size);
        if (!document.querySelector(".tile.enlarged")) document.body.classList.remove("has-enlarged");
      } catch (err) {
        setConnection(false);
      }
      await sleep(Math.max(50, STATE_INTERVAL_MS - (performance.now() - started)));
    }
  }

  async function pollSnapshots(tile) {
    while (tiles.get(tile.id) === tile) {
      var started = performance.now();
      if (connected && !document.hidden) {
        try {
          var url = "/live/snapshot?stream=" + encodeURIComponent(tile.id) + "&after=" + tile.token;
          var res = await fetch(url, { cache: "no-store", signal: AbortSignal.timeout(STATE_TIMEOUT_MS) });
          if (res.status === 200) {
            receive(tile, new Uint8Array(await res.arrayBuffer()));
          }
        } catch (err) {
          // The state poll reports a lost connection.
        }
      }
      await sleep(Math.max(20, config.snapshotIntervalMs - (performance.now() - started)));
    }
  }

  function receive(tile, bytes) {
    var length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
    var header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
    tile.token = header.token;
    var rgb = bytes.subarray(4 + length);
    if (header.width > 0 && header.height > 0) {
      if (!tile.picture || tile.picture.width !== header.width || tile.picture.height !== header.height) {
        tile.picture = document.createElement("canvas");
        tile.picture.width = header.width;
        tile.picture.height = header.height;
        tile.image = new ImageData(header.width, header.height);
      }
      var rgba = tile.image.data;
      for (var i = 0, o = 0, n = header.width * header.height * 3; i < n; i += 3, o += 4) {
        rgba[o] = rgb[i]; rgba[o + 1] = rgb[i + 1]; rgba[o + 2] = rgb[i + 2]; rgba[o + 3] = 255;
      }
      tile.picture.getContext("2d").putImageData(tile.image, 0, 0);
      tile.hasPicture = true;
    }
    var key = header.sourceWidth + " / " + header.sourceHeight;
    if (tile.sourceKey !== key) { tile.sourceKey = key; tile.view.style.aspectRatio = key; }
    tile.packet = header;
    tile.el.dataset.seq = String(header.seq);
    tile.el.livePacket = header; // what is drawn now, for headless checks
    if (tile.info) setText(field(tile, "overlay"), overlayText(tile, tile.info));
    draw(tile);
  }

  // Where the source image lies on the canvas: fitted, centred. Poses (source pixels) map
  // with the same scale and offset.
  function fit(canvas, header) {
    var s = Math.min(canvas.width / header.sourceWidth, canvas.height / header.sourceHeight);
    return {
      scale: s,
      x: (canvas.width - header.sourceWidth * s) / 2,
      y: (canvas.height - header.sourceHeight * s) / 2,
      width: header.sourceWidth * s,
      height: header.sourceHeight * s,
    };
  }

  function draw(tile) {
    var canvas = tile.canvas;
    var header = tile.packet;
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    var h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#07090c";
    ctx.fillRect(0, 0, w, h);
    var f = fit(canvas, header);
    if (tile.picture) {
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(tile.picture, f.x, f.y, f.width, f.height);
    }
    drawSkeletons(ctx, header.persons, f, dpr);
  }

  function drawSkeletons(ctx, persons, f, dpr) {
    var threshold = config.scoreThreshold;
    var unit = Math.max(1, f.width / 640) * dpr;
    var line = Math.max(2 * dpr, 2.5 * unit);
    var radius = Math.max(3 * dpr, 3.5 * unit);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    persons.forEach(function (p) {
      var x1 = f.x + p.box[0] * f.scale, y1 = f.y + p.box[1] * f.scale;
      var x2 = f.x + p.box[2] * f.scale, y2 = f.y + p.box[3] * f.scale;
      ctx.strokeStyle = "rgba(255, 255, 255, 0.28)";
      ctx.lineWidth = Math.max(1, dpr);
      ctx.setLineDash([4 * dpr, 4 * dpr]);
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      ctx.setLineDash([]);
      var label = Math.round(p.score * 100) + "%";
      ctx.font = Math.round(11 * dpr) + "px system-ui, sans-serif";
      var tw = ctx.measureText(label).width + 8 * dpr;
      var th = 15 * dpr;
      var ly = Math.max(0, y1 - th);
      ctx.fillStyle = "rgba(13, 16, 20, 0.75)";
      ctx.fillRect(x1, ly, tw, th);
      ctx.fillStyle = "#e6e9ee";
      ctx.textBaseline = "middle";
      ctx.fillText(label, x1 + 4 * dpr, ly + th / 2);
    });
    persons.forEach(function (p) {
      var k = p.keypoints;
      config.limbs.forEach(function (limb) {
        var a = 3 * limb.a, b = 3 * limb.b;
        if (k[a + 2] < threshold || k[b + 2] < threshold) return;
        ctx.strokeStyle = "rgba(0, 0, 0, 0.55)";
        ctx.lineWidth = line + 2 * dpr;
        ctx.beginPath();
        ctx.moveTo(f.x + k[a] * f.scale, f.y + k[a + 1] * f.scale);
        ctx.lineTo(f.x + k[b] * f.scale, f.y + k[b + 1] * f.scale);
        ctx.stroke();
        ctx.strokeStyle = config.colours[limb.side];
        ctx.lineWidth = line;
        ctx.stroke();
      });
    });
    persons.forEach(function (p) {
      var k = p.keypoints;
      for (var i = 0; i < 17; i++) {
        if (k[3 * i + 2] < threshold) continue;
        ctx.beginPath();
        ctx.arc(f.x + k[3 * i] * f.scale, f.y + k[3 * i + 1] * f.scale, radius, 0, 2 * Math.PI);
        ctx.fillStyle = config.colours[config.keypointSides[i]];
        ctx.fill();
        ctx.strokeStyle = "rgba(0, 0, 0, 0.7)";
        ctx.lineWidth = Math.max(1, dpr);
        ctx.stroke();
      }
    });
  }

  document.querySelectorAll("main.grid .tile").forEach(adopt);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) tiles.forEach(function (t) { if (t.packet) draw(t); });
  });
  pollState();
})();
`;
