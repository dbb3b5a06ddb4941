// Playback ("Relecture"): up to four cameras over a time window, a zoomable timeline per
// camera (recorded runs, gaps with their cause, legal holds) and synchronised playback
// through Media Source Extensions. A session is opened with a motive (audited) and
// closed when the screen goes away or the page is left.
//
// Segments are fetched around the playhead only, and each is appended with a
// timestamp offset so that media time counts the seconds since the origin (the window
// start, or the first segment's start when it begins earlier): a gap stays a gap in
// every <video>. A clock of the page drives the cameras; a video that plays leads it.

import { api, afficher, csrfToken, dire, el, enQuittant, parametresVue, peut } from "./lib.js";
import {
  CAUSES, PROCEDURES, champDate, choixCameras, dateHeure, dateOu, demanderTexte, depuisChamp,
} from "./exports.js";

const MAX_CAMERAS = 4;
const VITESSES = [0.25, 0.5, 1, 2, 4, 8, 16];
const IMAGES_PAR_S = 25; // frame step when the segments do not say
const PORTEE_MIN_MS = 10_000; // zoom: from 10 seconds…
const PORTEE_MAX_MS = 30 * 86_400_000; // …to 30 days
const AVANCE_S = 30; // fetched ahead of the playhead (times the speed)
const RECUL_S = 10; // and behind it
const GARDE_S = 120; // buffered media kept behind the playhead
const CODEC_DEFAUT = 'video/mp4; codecs="avc1.4d401f"';
const FLUX = { main: "Principal (pleine qualité)", sub: "Secondaire (léger)" };
// Chromium refuses a negative playbackRate; reverse play is offered where it is accepted
const ARRIERE_POSSIBLE = (() => {
  try { const v = document.createElement("video"); v.playbackRate = -1; return v.playbackRate < 0; } catch { return false; }
})();

// -- fMP4: codec string and first decode time of a segment ------------------------------

const CONTENEURS = new Set(["moov", "trak", "mdia", "minf", "stbl", "moof", "traf"]);
function* boites(v, debut, fin) {
  while (debut + 8 <= fin) {
    let taille = v.getUint32(debut);
    const type = String.fromCharCode(...new Uint8Array(v.buffer, v.byteOffset + debut + 4, 4));
    let entete = 8;
    if (taille === 1) { taille = Number(v.getBigUint64(debut + 8)); entete = 16; } else if (taille === 0) taille = fin - debut;
    if (taille < entete || debut + taille > fin) return;
    yield { type, debut: debut + entete, fin: debut + taille };
    if (CONTENEURS.has(type)) yield* boites(v, debut + entete, debut + taille);
    else if (type === "stsd") yield* boites(v, debut + entete + 8, debut + taille); // version, flags, count
    else if (type === "avc1" || type === "avc3") yield* boites(v, debut + entete + 78, debut + taille); // visual sample entry
    debut += taille;
  }
}

/** The MSE type of a segment (profile and level from its avcC) and the media time of
 *  its first fragment in seconds. */
export function lireSegment(buffer) {
  const v = new DataView(buffer);
  let codec = null; let echelle = 90_000; let base = null;
  for (const b of boites(v, 0, v.byteLength)) {
    if (b.type === "avcC" && !codec) codec = `avc1.${[1, 2, 3].map((i) => v.getUint8(b.debut + i).toString(16).padStart(2, "0")).join("")}`;
    else if (b.type === "mdhd") echelle = v.getUint32(b.debut + (v.getUint8(b.debut) === 1 ? 20 : 12)) || echelle;
    else if (b.type === "tfdt" && base === null) base = v.getUint8(b.debut) === 1 ? Number(v.getBigUint64(b.debut + 4)) : v.getUint32(b.debut + 4);
  }
  return { type: codec ? `video/mp4; codecs="${codec}"` : null, debutS: (base ?? 0) / echelle };
}

// -- one camera's player ------------------------------------------------------------------

class Piste {
  constructor(camera, origine, duree, surFin) {
    const secondes = (iso) => (Date.parse(iso) - origine) / 1000;
    this.camera = camera;
    this.segments = camera.segments.map((s) => ({ ...s, t0: secondes(s.start), t1: secondes(s.end), etat: "absent" }));
    this.trous = camera.gaps.map((g) => ({ ...g, t0: secondes(g.start), t1: secondes(g.end) }));
    this.duree = duree;
    this.surFin = surFin;
    this.video = el("video", { muted: true, playsinline: true, preload: "auto", "aria-label": `Relecture — ${camera.name}` });
    this.video.muted = true;
    this.message = el("p", { class: "relecture-message" });
    this.noeud = el("figure", { class: "relecture-tuile", "data-camera": camera.id },
      this.video, this.message, el("figcaption", { text: camera.name }));
    this.source = new MediaSource();
    this.ouverte = new Promise((ok) => this.source.addEventListener("sourceopen", ok, { once: true }));
    this.video.src = URL.createObjectURL(this.source);
    Object.assign(this, { tampon: null, type: null, occupee: false, fermee: false, erreur: null });
    this.charges = new Set(); // segments in the buffer
  }

  /** Index of the last segment that starts at or before ``t`` (-1: none). */
  indice(t) {
    let bas = 0; let haut = this.segments.length - 1; let trouve = -1;
    while (bas <= haut) {
      const m = (bas + haut) >> 1;
      if (this.segments[m].t0 <= t) { trouve = m; bas = m + 1; } else haut = m - 1;
    }
    return trouve;
  }
  segmentA(t) { const s = this.segments[this.indice(t)]; return s && t < s.t1 ? s : null; }
  trouA(t) { return this.trous.find((g) => g.t0 <= t && t < g.t1) ?? null; }
  /** Where the video shows ``t`` if it is buffered (a hair before a range: its start), else null. */
  cible(t) {
    const b = this.video.buffered;
    for (let i = 0; i < b.length; i++) if (b.start(i) - 0.05 <= t && t < b.end(i) - 0.02) return Math.max(t, b.start(i));
    return null;
  }

  /** Fetch and append the next segment wanted around ``pos`` (one at a time). */
  async charger(pos, vitesse) {
    if (this.occupee || this.fermee) return;
    const avance = AVANCE_S * Math.max(1, Math.abs(vitesse));
    const ecart = (s) => (s.t0 > pos ? s.t0 - pos : Math.max(0, pos - s.t1) * 2);
    const voulus = this.segments.slice(Math.max(0, this.indice(pos - RECUL_S)), this.indice(pos + avance) + 1)
      .filter((s) => s.etat === "absent" && s.t1 > pos - RECUL_S);
    voulus.sort((a, b) => ecart(a) - ecart(b));
    this.occupee = true;
    try {
      if (!voulus.length) { await this.liberer(pos); return; }
      const s = voulus[0];
      s.etat = "encours";
      const r = await fetch(s.url, { credentials: "same-origin" });
      if (r.status === 409) { s.etat = "absent"; this.surFin(); return; }
      if (!r.ok) {
        s.etat = "erreur";
        const corps = await r.json().catch(() => null);
        this.erreur = corps?.erreur?.message ?? `Erreur ${r.status}`;
        return;
      }
      await this.ajouter(s, await r.arrayBuffer(), pos);
      s.etat = this.fermee ? "absent" : "charge";
      if (!this.fermee) this.charges.add(s);
    } catch (e) {
      for (const s of this.segments) if (s.etat === "encours") s.etat = "erreur";
      this.erreur = e.message;
    } finally {
      this.occupee = false;
    }
  }

  async ajouter(s, octets, pos) {
    await this.ouverte;
    if (this.fermee) return;
    const { type, debutS } = lireSegment(octets);
    const voulu = type && MediaSource.isTypeSupported(type) ? type : CODEC_DEFAUT;
    if (!this.tampon) {
      this.source.duration = this.duree;
      this.tampon = this.source.addSourceBuffer(voulu);
      this.type = voulu;
    } else if (voulu !== this.type && this.tampon.changeType) {
      await this.attendre();
      this.tampon.changeType(voulu); // a camera reconfigured between two segments
      this.type = voulu;
    }
    await this.attendre();
    this.tampon.timestampOffset = s.t0 - debutS;
    try {
      await this.operer(() => this.tampon.appendBuffer(octets));
    } catch (e) {
      if (e.name !== "QuotaExceededError") throw e;
      await this.liberer(pos, GARDE_S / 4);
      await this.operer(() => this.tampon.appendBuffer(octets));
    }
  }

  attendre() {
    const t = this.tampon;
    return t?.updating ? new Promise((ok) => t.addEventListener("updateend", ok, { once: true })) : Promise.resolve();
  }

  async operer(action) {
    await this.attendre();
    const t = this.tampon;
    const ecoute = new AbortController();
    const fini = new Promise((ok, ko) => {
      t.addEventListener("updateend", ok, { signal: ecoute.signal });
      t.addEventListener("error", () => ko(new Error("Segment illisible par le navigateur.")), { signal: ecoute.signal });
    });
    try { action(); await fini; } finally { ecoute.abort(); }
  }

  /** Drop what is buffered far from the playhead, on segment boundaries. */
  async liberer(pos, garde = GARDE_S) {
    if (!this.tampon || this.fermee) return;
    const derriere = [...this.charges].filter((s) => s.t1 < pos - garde);
    const devant = [...this.charges].filter((s) => s.t0 > pos + 4 * garde);
    const oublier = (segments) => { for (const s of segments) { s.etat = "absent"; this.charges.delete(s); } };
    if (derriere.length) {
      await this.operer(() => this.tampon.remove(0, derriere.reduce((t, s) => Math.max(t, s.t1), 0)));
      oublier(derriere);
    }
    if (devant.length) {
      await this.operer(() => this.tampon.remove(devant.reduce((t, s) => Math.min(t, s.t0), Infinity), Infinity));
      oublier(devant);
    }
  }

  /** Follow the clock: show the picture at ``pos``, play or pause, or say why not. */
  suivre(pos, enLecture, vitesse) {
    const v = this.video;
    const seg = this.segmentA(pos);
    const cible = seg ? this.cible(pos) : null;
    const trou = seg ? null : this.trouA(pos);
    const message = !seg ? (trou ? `Interruption : ${CAUSES[trou.cause] ?? trou.cause}` : "Pas d'enregistrement")
      : seg.etat === "erreur" ? (this.erreur ?? "Segment illisible") : cible === null ? "Chargement…" : "";
    if (this.message.textContent !== message) this.message.textContent = message;
    this.noeud.classList.toggle("sans-image", Boolean(message) && message !== "Chargement…");
    if (message) { if (!v.paused) v.pause(); return; }
    if (v.playbackRate !== vitesse) v.playbackRate = vitesse;
    const tolerance = enLecture ? 0.25 * Math.max(1, Math.abs(vitesse)) : 0.002;
    if (!v.seeking && Math.abs(v.currentTime - cible) > tolerance) v.currentTime = cible;
    if (enLecture && v.paused) v.play().catch(() => {});
    else if (!enLecture && !v.paused) v.pause();
  }

  fermer() {
    this.fermee = true;
    const url = this.video.src;
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    URL.revokeObjectURL(url);
  }
}

// -- a playback session: the clock and its cameras ----------------------------------------

/** End a session, also while the page goes away (keepalive). */
function fermerSession(id) {
  fetch(`/api/v1/playback/${encodeURIComponent(id)}`, {
    method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() ?? "" },
  }).catch(() => {});
}

class Lecteur {
  constructor(session, { surPosition, surFin, surEtat }) {
    this.session = session;
    const avecSegments = session.cameras.filter((c) => c.segments.length); // segments come in order
    this.origine = Math.min(Date.parse(session.from), ...avecSegments.map((c) => Date.parse(c.segments[0].start)));
    this.duree = (Math.max(Date.parse(session.to), ...avecSegments.map((c) => Date.parse(c.segments.at(-1).end))) - this.origine) / 1000;
    const premier = session.cameras.flatMap((c) => c.segments).find((s) => s.frames && s.duration_s);
    this.image = premier ? premier.duration_s / premier.frames : 1 / IMAGES_PAR_S;
    this.pistes = session.cameras.map((c) => new Piste(c, this.origine, this.duree, () => this.finie()));
    Object.assign(this, { surPosition, surFin, surEtat, enLecture: false, vitesse: 1, pos0: 0, t0: performance.now(), terminee: false });
    this.boucle = requestAnimationFrame(() => this.battre());
  }

  position() {
    const p = this.enLecture ? this.pos0 + ((performance.now() - this.t0) / 1000) * this.vitesse : this.pos0;
    return Math.min(Math.max(p, 0), this.duree);
  }
  caler(pos) { this.pos0 = Math.min(Math.max(pos, 0), this.duree); this.t0 = performance.now(); }

  battre() {
    this.boucle = requestAnimationFrame(() => this.battre());
    let pos = this.position();
    if (this.enLecture) {
      const meneuse = this.pistes.find((p) => !p.video.paused && !p.video.seeking && p.video.readyState >= 3 && p.segmentA(pos));
      if (meneuse && Math.abs(meneuse.video.currentTime - pos) < 1) { pos = meneuse.video.currentTime; this.caler(pos); }
      const avecImage = this.pistes.filter((p) => p.segmentA(pos));
      if (!avecImage.length) pos = this.sauterTrou(pos);
      else if (!meneuse && avecImage.every((p) => p.segmentA(pos).etat !== "erreur" && p.cible(pos) === null)) this.caler(pos = this.pos0); // wait for the data
    }
    for (const p of this.pistes) {
      p.suivre(pos, this.enLecture && !this.terminee, this.vitesse);
      if (!this.terminee) p.charger(pos, this.vitesse);
    }
    this.surPosition(this.origine + pos * 1000);
  }

  /** Nobody recorded at ``pos``: go on at the next recording (or stop at the end). */
  sauterTrou(pos) {
    const avant = this.vitesse > 0;
    const bornes = this.pistes.map((p) => (avant ? p.segments[p.indice(pos) + 1]?.t0 : p.segments[p.indice(pos)]?.t1)).filter((t) => t !== undefined);
    if (!bornes.length) { this.pause(); this.caler(avant ? this.duree : 0); return this.pos0; }
    const suite = avant ? Math.min(...bornes) : Math.max(...bornes) - this.image;
    this.caler(suite);
    if (suite - pos > 1) dire(`Interruption d'enregistrement passée : reprise à ${dateHeure(this.origine + suite * 1000)}.`);
    return suite;
  }

  jouer() { if (this.terminee) return; this.caler(this.position()); this.enLecture = true; this.surEtat(); }
  pause() {
    const meneuse = this.pistes.find((p) => !p.video.paused && p.segmentA(this.position()));
    this.caler(meneuse ? meneuse.video.currentTime : this.position());
    this.enLecture = false;
    for (const p of this.pistes) p.video.pause();
    this.surEtat();
  }
  basculer() { if (this.enLecture) this.pause(); else this.jouer(); }
  aller(pos) {
    this.caler(pos);
    for (const s of this.pistes.flatMap((p) => p.segments)) if (s.etat === "erreur") s.etat = "absent"; // try again
  }
  pas(sens) { this.pause(); this.caler(this.pos0 + sens * this.image); }
  regler(vitesse) { this.caler(this.position()); this.vitesse = vitesse; this.surEtat(); }

  finie() {
    if (this.terminee) return;
    this.terminee = true;
    this.pause();
    this.surFin();
  }

  fermer() {
    cancelAnimationFrame(this.boucle);
    for (const p of this.pistes) p.fermer();
    if (!this.terminee) fermerSession(this.session.session);
    this.terminee = true;
  }
}

// -- the timeline ------------------------------------------------------------------------------

const PAS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 2 * 86_400, 7 * 86_400].map((s) => s * 1000);

class Frise {
  constructor(surCurseur) {
    this.surCurseur = surCurseur;
    this.cameras = [];
    this.donnees = new Map();
    this.vue = [Date.now() - 3_600_000, Date.now()];
    this.plage = this.vue;
    this.curseur = this.vue[0];
    this.generation = 0;
    this.axe = el("div", { class: "frise-axe" });
    this.lignes = el("div", { class: "frise-lignes" });
    this.bande = el("div", { class: "frise-plage", title: "Plage de relecture" });
    this.trait = el("div", { class: "frise-curseur" });
    this.zone = el("div", {
      class: "frise", tabindex: "0", role: "slider", "aria-label": "Frise chronologique : curseur de relecture",
      "aria-describedby": "aide-frise", onwheel: (ev) => this.roulette(ev), onpointerdown: (ev) => this.appui(ev),
      onkeydown: (ev) => this.touche(ev),
    }, this.axe, this.lignes, this.bande, this.trait);
    this.noeud = el("div", { class: "frise-cadre" }, this.zone,
      el("p", { id: "aide-frise", class: "droits", text: "Molette ou boutons − / + : zoom ; glisser : se déplacer ; clic ou glisser sur la graduation : placer le curseur. Espace : lecture / pause ; flèches gauche et droite : image par image." }));
  }

  definir(cameras, plage) {
    this.cameras = cameras;
    this.plage = plage;
    const marge = Math.max((plage[1] - plage[0]) / 10, 2000);
    this.vue = this.borner([plage[0] - marge, plage[1] + marge]);
    this.donnees.clear();
    this.dessiner();
    this.charger();
  }

  borner([a, b]) {
    const portee = Math.min(Math.max(b - a, PORTEE_MIN_MS), PORTEE_MAX_MS);
    const milieu = (a + b) / 2;
    return [milieu - portee / 2, milieu + portee / 2];
  }

  temps(x) { const r = this.zone.getBoundingClientRect(); return this.vue[0] + ((x - r.left) / r.width) * (this.vue[1] - this.vue[0]); }
  pct(t) { return ((t - this.vue[0]) / (this.vue[1] - this.vue[0])) * 100; }
  placer(noeud, a, b) {
    const g = Math.max(this.pct(a), -1); const d = Math.min(this.pct(b), 101);
    noeud.style.left = `${g}%`;
    noeud.style.width = `${Math.max(d - g, 0.2)}%`;
    noeud.hidden = d < 0 || g > 100;
    return noeud;
  }

  zoomer(facteur, centre = this.curseur) {
    const [a, b] = this.vue;
    const portee = Math.min(Math.max((b - a) * facteur, PORTEE_MIN_MS), PORTEE_MAX_MS);
    const debut = centre - ((centre - a) * portee) / (b - a);
    this.vue = [debut, debut + portee];
    this.dessiner();
    this.planifier();
  }
  decaler(ms) { this.vue = [this.vue[0] + ms, this.vue[1] + ms]; this.dessiner(); this.planifier(); }

  roulette(ev) { ev.preventDefault(); this.zoomer(ev.deltaY > 0 ? 1.25 : 0.8, this.temps(ev.clientX)); }

  appui(ev) {
    if (ev.button !== 0) return;
    const curseur = this.axe.contains(ev.target);
    const x0 = ev.clientX; const vue0 = this.vue; const largeur = this.zone.getBoundingClientRect().width;
    let bouge = false;
    this.zone.setPointerCapture(ev.pointerId);
    if (curseur) this.surCurseur(this.temps(x0));
    const mouvement = (e) => {
      if (curseur) { this.surCurseur(this.temps(e.clientX)); return; }
      if (Math.abs(e.clientX - x0) > 3) bouge = true;
      if (!bouge) return;
      const ms = (-(e.clientX - x0) / largeur) * (vue0[1] - vue0[0]);
      this.vue = [vue0[0] + ms, vue0[1] + ms];
      this.dessiner();
    };
    const ecoute = new AbortController();
    const fin = (e) => {
      ecoute.abort();
      if (bouge) this.planifier(); else if (!curseur && e.type === "pointerup") this.surCurseur(this.temps(e.clientX));
    };
    for (const [type, f] of [["pointermove", mouvement], ["pointerup", fin], ["pointercancel", fin]]) this.zone.addEventListener(type, f, { signal: ecoute.signal });
  }

  touche(ev) {
    const portee = this.vue[1] - this.vue[0];
    const actions = { "+": () => this.zoomer(0.5), "=": () => this.zoomer(0.5), "-": () => this.zoomer(2),
      PageUp: () => this.decaler(-portee / 2), PageDown: () => this.decaler(portee / 2),
      Home: () => this.surCurseur(this.plage[0]), End: () => this.surCurseur(this.plage[1]) };
    if (!actions[ev.key]) return;
    ev.preventDefault();
    actions[ev.key]();
  }

  planifier() { clearTimeout(this.minuterie); this.minuterie = setTimeout(() => this.charger(), 250); }

  async charger() {
    const generation = ++this.generation;
    const [a, b] = this.vue;
    const params = new URLSearchParams({ from: new Date(a).toISOString(), to: new Date(b).toISOString(), stream: this.flux ?? "main" });
    try {
      const frises = await Promise.all(this.cameras.map((c) => api("GET", `/api/v1/cameras/${encodeURIComponent(c.id)}/timeline?${params}`)));
      if (generation !== this.generation) return;
      frises.forEach((f, i) => this.donnees.set(this.cameras[i].id, f));
      this.dessiner();
    } catch (e) { dire(e.message, true); }
  }

  dessiner() {
    const [a, b] = this.vue;
    const pas = PAS.find((p) => (b - a) / p <= 8) ?? PAS.at(-1);
    const format = pas >= 86_400_000 ? { dateStyle: "short" } : pas >= 3_600_000 ? { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" }
      : pas >= 60_000 ? { hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    const decalage = -new Date(a).getTimezoneOffset() * 60_000;
    const graduations = [];
    for (let t = Math.ceil((a + decalage) / pas) * pas - decalage; t <= b; t += pas) {
      const g = el("span", { class: "frise-graduation", text: new Date(t).toLocaleString("fr-FR", format) });
      g.style.left = `${this.pct(t)}%`;
      graduations.push(g);
    }
    this.axe.replaceChildren(...graduations);
    this.lignes.replaceChildren(...this.cameras.map((c) => {
      const f = this.donnees.get(c.id) ?? { runs: [], gaps: [], holds: [] };
      return el("div", { class: "frise-ligne", "data-camera": c.id },
        el("span", { class: "frise-nom", text: c.name }),
        f.runs.map((r) => this.placer(el("div", { class: "frise-run", title: `Enregistrement du ${dateHeure(r.start)} au ${r.open ? "présent" : dateHeure(r.end)}` }), Date.parse(r.start), Date.parse(r.end))),
        f.gaps.map((g) => this.placer(el("div", { class: "frise-trou", "data-cause": g.cause, title: `Interruption (${CAUSES[g.cause] ?? g.cause}) du ${dateHeure(g.start)} au ${dateHeure(g.end)}` }), Date.parse(g.start), Date.parse(g.end))),
        f.holds.map((h) => this.placer(el("div", { class: "frise-conservation", title: `Conservation judiciaire ${h.reference} (${PROCEDURES[h.procedure] ?? h.procedure})${h.expires_at ? ` jusqu'au ${dateHeure(h.expires_at)}` : ""}` }), Date.parse(h.start), Date.parse(h.end))));
    }));
    this.placer(this.bande, ...this.plage);
    this.montrer(this.curseur);
  }

  /** Move the cursor; while playing, the view follows it. */
  montrer(t, suivre = false) {
    this.curseur = t;
    const [a, b] = this.vue;
    if (suivre && (t < a || t > b - (b - a) * 0.02)) { this.decaler(t - a - (b - a) * 0.1); return; }
    this.trait.style.left = `${this.pct(t)}%`;
    this.trait.hidden = t < a || t > b;
    const [p0, p1] = this.plage;
    this.zone.setAttribute("aria-valuemin", "0");
    this.zone.setAttribute("aria-valuemax", String(Math.round((p1 - p0) / 1000)));
    this.zone.setAttribute("aria-valuenow", String(Math.round((t - p0) / 1000)));
    this.zone.setAttribute("aria-valuetext", dateHeure(t));
  }
}

// -- the screen ---------------------------------------------------------------------------------

class EcranRelecture {
  constructor(cameras, p) {
    this.cameras = cameras;
    this.lecteur = null;
    this.motif = "";
    const voulues = new Set(p.getAll("camera").flatMap((v) => v.split(",")));
    const fin = dateOu(p.get("to"), new Date());
    const debut = dateOu(p.get("from"), new Date(fin.getTime() - 3_600_000));
    this.formulaire = el("form", { class: "carte large relecture-choix", "aria-label": "Caméras et plage de relecture" },
      choixCameras(cameras, voulues, `Caméras (${MAX_CAMERAS} au plus)`, (ev) => this.limiter(ev.target)),
      el("div", { class: "relecture-plage" },
        el("div", {}, ...champDate("Début", "from", debut)), el("div", {}, ...champDate("Fin", "to", fin)),
        el("div", {}, el("label", { for: "relecture-flux", text: "Flux" }), el("select", { id: "relecture-flux", name: "stream" },
          Object.entries(FLUX).map(([v, t]) => el("option", { value: v, selected: v === (p.get("stream") ?? "main") }, t)))),
        el("div", {}, el("button", { type: "submit", text: "Afficher" }))));
    this.formulaire.addEventListener("submit", (ev) => { ev.preventDefault(); this.appliquer(); });
    this.frise = new Frise((t) => this.placerCurseur(t));
    this.boutonLire = el("button", { type: "button", text: "Lire", "aria-keyshortcuts": "Space", onclick: () => this.lire() });
    this.choixVitesse = el("select", { id: "relecture-vitesse", onchange: () => this.lecteur?.regler(Number(this.choixVitesse.value)) },
      VITESSES.map((v) => el("option", { value: String(v), selected: v === 1 }, `×${String(v).replace(".", ",")}`)));
    this.heure = el("time", { class: "relecture-heure" }); // not a live region: it changes every frame
    this.fin = el("div", { class: "relecture-fin", hidden: true, role: "alert" });
    const bouton = (texte, libelle, action, extra = {}) => el("button", { type: "button", class: "secondaire", text: texte, "aria-label": libelle, title: libelle, onclick: action, ...extra });
    this.outils = el("div", { class: "relecture-outils", role: "toolbar", "aria-label": "Commandes de relecture" },
      this.boutonLire,
      bouton("◀ 1 image", "Image précédente", () => this.image(-1), { "aria-keyshortcuts": "ArrowLeft" }),
      bouton("1 image ▶", "Image suivante", () => this.image(1), { "aria-keyshortcuts": "ArrowRight" }),
      bouton("Arrière", "Lecture arrière", () => this.arriere()),
      el("span", { class: "relecture-vitesse" }, el("label", { for: "relecture-vitesse", text: "Vitesse" }), this.choixVitesse),
      bouton("−", "Zoom arrière", () => this.frise.zoomer(2)),
      bouton("+", "Zoom avant", () => this.frise.zoomer(0.5)),
      peut("export") ? bouton("Demander un extrait", "Demander un extrait", () => this.extrait()) : null,
      bouton("Fermer la relecture", "Fermer la relecture", () => { this.fermer(); dire("Relecture fermée."); }),
      el("span", { class: "relecture-curseur" }, el("span", { class: "droits", text: "Curseur :" }), this.heure));
    this.videos = el("div", { class: "relecture-videos" });
    this.noeud = el("div", { class: "relecture" }, this.formulaire, this.frise.noeud, this.outils, this.fin, this.videos);
    this.clavier = (ev) => this.touche(ev);
    this.depart = () => { if (this.lecteur && !this.lecteur.terminee) { this.lecteur.fermer(); this.sessionFinie(); } };
  }

  demarrer() {
    document.addEventListener("keydown", this.clavier);
    window.addEventListener("pagehide", this.depart);
    if (this.choisies().length) this.appliquer();
    else { this.frise.dessiner(); this.montrer(this.frise.curseur); }
  }

  quitter() {
    this.fermer();
    document.removeEventListener("keydown", this.clavier);
    window.removeEventListener("pagehide", this.depart);
  }

  choisies() { return [...this.formulaire.querySelectorAll("input[name=camera]:checked")].map((i) => i.value); }

  limiter(case_) {
    if (case_.checked && this.choisies().length > MAX_CAMERAS) {
      case_.checked = false;
      dire(`${MAX_CAMERAS} caméras au plus par relecture.`, true);
    }
  }

  appliquer() {
    dire("");
    try {
      const ids = this.choisies();
      if (!ids.length) throw new Error("Choisissez au moins une caméra.");
      const d = new FormData(this.formulaire);
      const debut = Date.parse(depuisChamp(d.get("from"), "Début"));
      const fin = Date.parse(depuisChamp(d.get("to"), "Fin"));
      if (fin <= debut) throw new Error("Plage horaire invalide : la fin doit suivre le début.");
      this.fermer();
      this.choix = { cameras: ids, debut, fin, flux: d.get("stream") };
      this.frise.flux = this.choix.flux;
      this.frise.definir(ids.map((id) => this.cameras.find((c) => c.id === id)), [debut, fin]);
      this.placerCurseur(debut);
    } catch (e) { dire(e.message, true); }
  }

  placerCurseur(t) {
    const l = this.lecteur;
    if (l && !l.terminee) {
      const pos = (t - l.origine) / 1000;
      if (pos < 0 || pos > l.duree) { dire("Hors de la plage lue : changez la plage puis « Afficher ».", true); return; }
      l.aller(pos);
    }
    this.montrer(t);
  }

  montrer(t, suivre = false) {
    this.frise.montrer(t, suivre);
    this.heure.textContent = dateHeure(t);
    this.heure.dateTime = new Date(t).toISOString();
  }

  lire() {
    if (this.lecteur && !this.lecteur.terminee) { this.lecteur.basculer(); return; }
    if (!this.choix) { dire("Choisissez les caméras et la plage, puis « Afficher ».", true); return; }
    this.demanderMotif();
  }

  image(sens) {
    if (this.lecteur && !this.lecteur.terminee) this.lecteur.pas(sens);
    else this.montrer(this.frise.curseur + (sens * 1000) / IMAGES_PAR_S);
  }

  arriere() {
    if (!ARRIERE_POSSIBLE) { dire("Lecture arrière non disponible dans ce navigateur : utilisez l'image par image (flèche gauche).", true); return; }
    if (!this.lecteur) return;
    this.lecteur.regler(-Math.abs(Number(this.choixVitesse.value)));
    this.lecteur.jouer();
  }

  /** The motive dialog; its button opens the session (the server audits it). */
  demanderMotif() {
    demanderTexte({
      titre: "Motif de la relecture", libelle: "Motif (réquisition, incident, vérification…)", valeur: this.motif,
      aide: "La relecture est journalisée avec ce motif, les caméras, la plage et sa durée.",
      coche: peut("lift_masks") ? "Lever les masques de confidentialité (droit dédié, journalisé)" : null,
      bouton: "Lancer la lecture", action: (motif, leverMasques) => this.ouvrir(motif, leverMasques),
    });
  }

  async ouvrir(motif, leverMasques) {
    const { cameras, debut, fin, flux } = this.choix;
    const session = await api("POST", "/api/v1/playback", {
      cameras, from: new Date(debut).toISOString(), to: new Date(fin).toISOString(), motive: motif, stream: flux, unmasked: leverMasques,
    });
    const reprise = this.lecteur?.terminee ? this.frise.curseur : null;
    this.fermer();
    this.motif = motif;
    this.lecteur = new Lecteur(session, {
      surPosition: (t) => this.montrer(t, this.lecteur?.enLecture),
      surFin: () => this.sessionFinie(),
      surEtat: () => this.etat(),
    });
    this.lecteur.regler(Number(this.choixVitesse.value));
    this.videos.className = `relecture-videos n${session.cameras.length}`;
    this.videos.replaceChildren(...this.lecteur.pistes.map((p) => p.noeud));
    const depart = reprise ?? (this.frise.curseur >= debut && this.frise.curseur < fin ? this.frise.curseur : debut);
    this.lecteur.aller((depart - this.lecteur.origine) / 1000);
    this.lecteur.jouer();
    const sans = session.cameras.filter((c) => !c.segments.length).map((c) => c.name);
    dire(`Relecture ouverte (journalisée)${sans.length ? ` — aucun enregistrement pour : ${sans.join(", ")}` : ""}.`);
  }

  etat() {
    const l = this.lecteur;
    const lecture = Boolean(l?.enLecture && !l.terminee);
    this.boutonLire.textContent = lecture ? "Pause" : "Lire";
    this.boutonLire.setAttribute("aria-pressed", String(lecture));
  }

  sessionFinie() {
    this.fin.hidden = false;
    this.fin.replaceChildren(el("span", { text: "La session de relecture est terminée (fermée ou expirée)." }),
      el("button", { type: "button", text: "Rouvrir la relecture", onclick: () => this.demanderMotif() }));
    this.etat();
  }

  extrait() {
    if (!this.choix) { dire("Choisissez les caméras et la plage, puis « Afficher ».", true); return; }
    const p = new URLSearchParams({ cameras: this.choix.cameras.join(","), from: new Date(this.choix.debut).toISOString(), to: new Date(this.choix.fin).toISOString() });
    location.hash = `#/extraits?${p}`;
  }

  touche(ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.target.closest?.("input, select, textarea, dialog")) return;
    if (ev.key === " " && !ev.target.closest?.("button, a, summary")) { ev.preventDefault(); this.lire(); }
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") { ev.preventDefault(); this.image(ev.key === "ArrowLeft" ? -1 : 1); }
  }

  fermer() {
    this.lecteur?.fermer();
    this.lecteur = null;
    this.videos.replaceChildren();
    this.fin.hidden = true;
    this.etat();
  }
}

export async function vueRelecture() {
  const p = parametresVue();
  const { cameras } = await api("GET", "/api/v1/cameras");
  const ecran = new EcranRelecture(cameras.filter((c) => c.rights.includes("playback")), p);
  afficher("Relecture", ecran.noeud);
  enQuittant(() => ecran.quitter());
  ecran.demarrer();
}
