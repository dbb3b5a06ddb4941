// Live player: WebRTC through WHEP first (camera H.264 passed through, sub-second
// latency), fMP4 over a WebSocket into Media Source Extensions when WebRTC cannot pass
// (no RTCPeerConnection, or no media within a few seconds). The choice is automatic.
//
//   const p = openLive(video, { camera, stream, csrf, onState, onLatency });
//   p.setStream("main"); p.close();
//
// onState(state, message): "connexion" | "direct" | "perdu" | "refus" | "desactive" | "erreur".
// onLatency(ms): estimated latency of the picture, about every second.
// Share pages pass { whep, fmp4 } URLs instead of a camera.

const WEBRTC_WAIT_MS = 6000;
const RETRY_MS = 3000;

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function stateOfStatus(status) {
  if (status === 403 || status === 404) return "refus";
  if (status === 409) return "desactive";
  return "erreur";
}

async function answerOf(response) {
  if (response.status === 201) return response.text();
  let message = `Erreur ${response.status}`;
  try { message = (await response.json()).erreur.message; } catch { /* not JSON */ }
  throw new HttpError(response.status, message);
}

function waitGathering(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

function waitFrames(video, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("aucune image")), ms);
    const ok = () => { clearTimeout(timer); resolve(); };
    if (video.readyState >= 2) ok(); else video.addEventListener("loadeddata", ok, { once: true });
  });
}

async function webrtc(video, urls, csrf, report) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addEventListener("track", (e) => {
    video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    video.play().catch(() => {});
  });
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathering(pc, 2000);
  const headers = { "Content-Type": "application/sdp" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(urls.whep, {
    method: "POST", headers, body: pc.localDescription.sdp, credentials: "same-origin",
  });
  let answer;
  try { answer = await answerOf(response); } catch (e) { pc.close(); throw e; }
  const location = response.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  const end = (keepalive) => {
    pc.close();
    if (location) {
      const h = csrf ? { "X-CSRF-Token": csrf } : {};
      fetch(location, { method: "DELETE", headers: h, credentials: "same-origin", keepalive }).catch(() => {});
    }
  };
  try { await waitFrames(video, WEBRTC_WAIT_MS); } catch (e) { end(false); throw e; }
  pc.addEventListener("connectionstatechange", () => {
    if (["failed", "disconnected", "closed"].includes(pc.connectionState)) report.lost();
  });
  const timer = setInterval(async () => {
    let jitter = 0, rtt = 0, decode = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video" && s.jitterBufferEmittedCount) {
        jitter = s.jitterBufferDelay / s.jitterBufferEmittedCount;
        if (s.framesDecoded) decode = (s.totalDecodeTime ?? 0) / s.framesDecoded;
      }
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime) rtt = s.currentRoundTripTime;
    });
    report.latency(Math.round((jitter + decode + rtt / 2) * 1000));
  }, 1000);
  return { transport: "webrtc", close: (keepalive = false) => { clearInterval(timer); end(keepalive); } };
}

function fmp4(video, urls, report) {
  return new Promise((resolve, reject) => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${urls.fmp4}`);
    ws.binaryType = "arraybuffer";
    const queue = [];
    let source = null, buffer = null, started = false, timer = null;
    const pump = () => {
      if (buffer && !buffer.updating && queue.length) {
        try { buffer.appendBuffer(queue.shift()); } catch { report.lost(); ws.close(); }
      }
    };
    const close = () => { clearInterval(timer); ws.close(); if (video.src) URL.revokeObjectURL(video.src); };
    ws.addEventListener("message", (e) => {
      if (typeof e.data === "string") {
        const { codec } = JSON.parse(e.data);
        const type = `video/mp4; codecs="${codec}"`;
        if (!window.MediaSource || !MediaSource.isTypeSupported(type)) { reject(new Error(`codec ${codec} non pris en charge`)); ws.close(); return; }
        source = new MediaSource();
        video.src = URL.createObjectURL(source);
        source.addEventListener("sourceopen", () => {
          buffer = source.addSourceBuffer(type);
          buffer.mode = "segments";
          buffer.addEventListener("updateend", pump);
          pump();
        }, { once: true });
        return;
      }
      queue.push(e.data);
      pump();
      if (!started && video.buffered.length) {
        started = true;
        video.play().catch(() => {});
        let ticks = 0;
        timer = setInterval(() => {
          const b = video.buffered;
          if (!b.length) return;
          const edge = b.end(b.length - 1);
          const behind = edge - video.currentTime;
          // stay near the live edge: jump when far behind, play a little faster when close
          if (behind > 0.5) video.currentTime = edge - 0.08;
          video.playbackRate = behind > 0.2 ? 1.1 : 1;
          if (!buffer.updating && video.currentTime - b.start(0) > 20) buffer.remove(b.start(0), video.currentTime - 10);
          if (++ticks % 4 === 0) report.latency(Math.round(behind * 1000));
        }, 250);
        resolve({ transport: "fmp4", close });
      }
    });
    ws.addEventListener("close", (e) => {
      if (!started) reject(new HttpError(e.code === 1008 ? 403 : 0, "flux indisponible"));
      else report.lost();
    });
  });
}

export function openLive(video, opts) {
  const onState = opts.onState ?? (() => {});
  const onLatency = opts.onLatency ?? (() => {});
  let stream = opts.stream ?? "sub";
  let current = null, closed = false, retry = null, generation = 0;
  const urlsOf = () => opts.camera
    ? { whep: `/api/v1/cameras/${encodeURIComponent(opts.camera)}/live/${stream}/whep`,
        fmp4: `/api/v1/cameras/${encodeURIComponent(opts.camera)}/live/${stream}/fmp4` }
    : { whep: opts.whep, fmp4: opts.fmp4 };

  const stop = (keepalive = false) => {
    clearTimeout(retry);
    if (current) { current.close(keepalive); current = null; }
    video.srcObject = null;
    video.removeAttribute("src");
  };

  async function start() {
    const mine = ++generation;
    const report = {
      latency: (ms) => { if (mine === generation && !closed) onLatency(ms); },
      lost: () => {
        if (mine !== generation || closed) return;
        onState("perdu", "Flux perdu, nouvelle tentative…");
        stop();
        retry = setTimeout(start, RETRY_MS);
      },
    };
    onState("connexion", "Connexion…");
    const urls = urlsOf();
    let player = null;
    try {
      if (window.RTCPeerConnection && !opts.fmp4Only && urls.whep) {
        try { player = await webrtc(video, urls, opts.csrf, report); }
        catch (e) { if (e instanceof HttpError) throw e; } // otherwise: fall back to fMP4
      }
      if (!player) player = await fmp4(video, urls, report);
    } catch (e) {
      if (mine !== generation || closed) return;
      const state = e instanceof HttpError ? stateOfStatus(e.status) : "erreur";
      onState(state, e.message);
      if (state === "erreur") retry = setTimeout(start, RETRY_MS * 2);
      return;
    }
    if (mine !== generation || closed) { player.close(); return; }
    current = player;
    video.dataset.transport = player.transport;
    onState("direct", player.transport === "webrtc" ? "En direct" : "En direct (repli fMP4)");
  }

  const onHide = () => stop(true);
  window.addEventListener("pagehide", onHide);
  start();
  return {
    close() { closed = true; generation++; window.removeEventListener("pagehide", onHide); stop(true); },
    setStream(name) { if (name !== stream) { stream = name; stop(); start(); } },
  };
}
