// Video wall ("Mur d'images"): a tree of the cameras one may watch live, a grid of
// 1, 4, 9 or 16 live tiles filled by drag and drop or by keyboard, saved views
// ("vues", own and shared), and a full-screen wall mode for the room's big screens.
// Tiles play the "sub" stream; a tile shown alone plays "main".

import { api, afficher, csrfToken, dire, el, enQuittant, ETATS, parametresVue, peut } from "./lib.js";
import { PanneauPtz } from "./ptz.js";
import { Detections } from "./analytics.js";
import { ecouterAlertes } from "./alerts.js";

const DISPOSITIONS = [1, 4, 9, 16];
const MAX_TUILES = 16;
const LATENCE_HAUTE_MS = 1000;
const ETATS_TUILE = {
  vide: "Déposez une caméra ici", connexion: "Connexion…", direct: "En direct",
  perdu: "Flux perdu", refus: "Accès non autorisé", desactive: "Direct désactivé",
  erreur: "Erreur",
};
const VIDE = Object.freeze({ camera: null, nom: null, masque: false });
// « Afficher les alarmes sur le mur » (Smart Wall style): the camera of a new alert of
// priority <= `priorite` goes to tile `tuile`; kept in this browser.
const CLE_ALARMES = "vms.mur.alarmes";

// The live player is loaded on first use; if it cannot be, every tile says so.
let lecteur = null;
function chargerLecteur() {
  lecteur ??= import("./player.js").then((module) => module.openLive, () => lecteurAbsent);
  return lecteur;
}
function lecteurAbsent(video, { onState }) {
  onState("erreur", "Lecteur indisponible");
  return { close() {}, setStream() {} };
}

/** Run an event handler, announcing its failure instead of losing it. */
const action = (fn) => async (...args) => {
  try { await fn(...args); } catch (e) { dire(e.message, true); }
};

class Mur {
  constructor(cameras, tenants) {
    this.cameras = new Map(cameras.map((c) => [c.id, c]));
    this.disposition = 4;
    this.tuiles = Array(MAX_TUILES).fill(VIDE);
    this.lecteurs = Array(MAX_TUILES).fill(null);
    this.generations = Array(MAX_TUILES).fill(0); // a tile's player callbacks are stale once it changes
    this.seule = null; // index of the tile shown alone
    this.ptz = null; // PTZ panel of the tile shown alone
    this.choisie = null; // camera chosen by keyboard, waiting for its tile
    this.vues = [];
    this.vue = null; // the saved view on screen
    this.peutPartager = false;
    this.noeuds = this.tuiles.map((_, i) => this.creerTuile(i));
    this.noeuds.forEach((_, i) => this.dessiner(i));
    this.grille = el("div", { class: "mur d4", role: "group", "aria-label": "Tuiles du mur" }, this.noeuds.map((n) => n.noeud));
    this.zone = el("div", { class: "mur-zone" }, this.grille);
    this.arbre = this.creerArbre(cameras, tenants);
    this.creerOutils();
  }

  // -- building ------------------------------------------------------------------------

  creerArbre(cameras, tenants) {
    const noms = Object.fromEntries(tenants.map((t) => [t.id, t.name]));
    const parCommune = new Map();
    for (const c of cameras) {
      if (!parCommune.has(c.tenant)) parCommune.set(c.tenant, []);
      parCommune.get(c.tenant).push(c);
    }
    this.boutonsCameras = [];
    const commune = ([tenant, cams]) => el("li", {},
      el("p", { class: "commune", text: noms[tenant] ?? cams[0].tenant_name }),
      el("ul", {}, cams.map((c) => {
        const bouton = el("button", {
          type: "button", class: "camera-mur", draggable: "true", "data-camera": c.id, "aria-pressed": "false",
          ondragstart: (ev) => { ev.dataTransfer.setData("text/plain", c.id); ev.dataTransfer.effectAllowed = "copy"; },
          onclick: () => this.choisir(c.id),
        }, el("span", { class: "camera-nom", text: c.name }),
        el("span", { class: `etat etat-${c.status}`, text: ETATS[c.status] ?? c.status }));
        this.boutonsCameras.push(bouton);
        return el("li", {}, bouton);
      })));
    return el("aside", { class: "mur-arbre", "aria-labelledby": "titre-arbre" },
      el("h2", { id: "titre-arbre", text: "Caméras" }),
      cameras.length
        ? el("ul", { class: "arbre", "aria-label": "Caméras du mur" }, [...parCommune].map(commune))
        : el("p", { text: "Aucune caméra de votre périmètre n'est visible en direct." }),
      el("p", { class: "droits", id: "aide-mur", text: "Glissez une caméra sur une tuile, ou choisissez-la puis "
        + "activez une tuile (Entrée). Double-clic ou Entrée sur une tuile : plein cadre ; Échap : retour à la grille." }));
  }

  creerTuile(i) {
    const n = {
      video: el("video", { muted: true, autoplay: true, playsinline: true }),
      nom: el("span", { class: "tuile-nom" }),
      etat: el("span", { class: "tuile-etat" }),
      latence: el("span", { class: "tuile-latence" }),
      message: el("p", { class: "tuile-message" }),
    };
    n.video.muted = true;
    n.vider = el("button", {
      type: "button", class: "tuile-vider", text: "×", title: "Vider la tuile",
      "aria-label": `Vider la tuile ${i + 1}`, hidden: true,
      onclick: (ev) => { ev.stopPropagation(); this.vider(i); },
    });
    // optional overlay of the camera's live analytics (analytics.js)
    n.detections = el("button", {
      type: "button", class: "tuile-detections", text: "Détections", "aria-pressed": "false", hidden: true,
      "aria-label": `Détections de la tuile ${i + 1}`,
      onclick: (ev) => { ev.stopPropagation(); this.basculerDetections(i); },
      ondblclick: (ev) => ev.stopPropagation(),
    });
    n.noeud = el("div", {
      class: "tuile", role: "group", tabindex: "0", "data-position": String(i), "aria-describedby": "aide-mur",
      hidden: i >= this.disposition,
      ondragover: (ev) => { ev.preventDefault(); ev.dataTransfer.dropEffect = "copy"; n.noeud.classList.add("survol"); },
      ondragleave: () => n.noeud.classList.remove("survol"),
      ondrop: (ev) => {
        ev.preventDefault();
        n.noeud.classList.remove("survol");
        const camera = ev.dataTransfer.getData("text/plain");
        if (this.cameras.has(camera)) this.affecter(i, camera);
      },
      onclick: () => { if (this.choisie) this.affecter(i, this.choisie); },
      ondblclick: (ev) => { if (!n.vider.contains(ev.target)) this.basculerSeule(i); },
      onkeydown: (ev) => this.toucheTuile(ev, i),
    }, n.video, n.message, el("div", { class: "tuile-bandeau" }, n.nom, n.etat, n.latence, n.detections, n.vider));
    n.calque = new Detections(n.noeud, n.video);
    return n;
  }

  creerOutils() {
    this.boutonsDisposition = DISPOSITIONS.map((d) => el("button", {
      type: "button", class: "secondaire", "aria-pressed": String(d === this.disposition),
      "aria-label": d === 1 ? "1 tuile" : `${d} tuiles`, text: d === 1 ? "1" : `${Math.sqrt(d)}×${Math.sqrt(d)}`,
      onclick: () => this.changerDisposition(d),
    }));
    this.choixVue = el("select", { id: "mur-vue", onchange: action(() => this.chargerVue(this.choixVue.value)) });
    this.boutonSupprimer = el("button", { type: "button", class: "secondaire", text: "Supprimer", disabled: true,
      onclick: action(() => this.supprimer()) });
    this.partage = el("input", { type: "checkbox", id: "mur-partage" });
    this.champPartage = el("span", { class: "mur-partage", hidden: true },
      this.partage, el("label", { for: "mur-partage", text: "Partager" }));
    this.outils = el("div", { class: "mur-outils" },
      el("div", { role: "group", "aria-label": "Disposition", class: "mur-dispositions" }, this.boutonsDisposition),
      el("span", { class: "mur-vues" },
        el("label", { for: "mur-vue", text: "Vue" }), this.choixVue,
        el("button", { type: "button", text: "Enregistrer", onclick: action(() => this.enregistrer()) }),
        el("button", { type: "button", class: "secondaire", text: "Enregistrer sous…", onclick: action(() => this.enregistrerSous()) }),
        this.boutonSupprimer, this.champPartage),
      el("button", { type: "button", class: "secondaire", text: "Mode mur", onclick: () => this.modeMur() }),
      this.creerAlarmes());
  }

  /** The wall automation's options: on/off, the tile, the highest priority shown. */
  creerAlarmes() {
    let reglage = { actif: false, tuile: 1, priorite: 2 };
    try { reglage = { ...reglage, ...JSON.parse(localStorage.getItem(CLE_ALARMES) ?? "{}") }; } catch { /* defaults */ }
    this.alarmes = reglage;
    const garder = () => {
      this.alarmes = { actif: actif.checked, tuile: Number(tuile.value), priorite: Number(priorite.value) };
      localStorage.setItem(CLE_ALARMES, JSON.stringify(this.alarmes));
    };
    const actif = el("input", { type: "checkbox", id: "mur-alarmes", onchange: garder });
    actif.checked = reglage.actif;
    const tuile = el("select", { id: "mur-alarmes-tuile", onchange: garder },
      Array.from({ length: MAX_TUILES }, (_, i) => el("option", { value: String(i + 1), text: String(i + 1) })));
    tuile.value = String(reglage.tuile);
    const priorite = el("select", { id: "mur-alarmes-priorite", onchange: garder },
      [1, 2, 3, 4].map((p) => el("option", { value: String(p), text: p === 1 ? "1 seulement" : `1 à ${p}` })));
    priorite.value = String(reglage.priorite);
    return el("span", { class: "mur-alarmes", hidden: !peut("handle_alerts") },
      actif, el("label", { for: "mur-alarmes", text: "Afficher les alarmes sur le mur" }),
      el("label", { for: "mur-alarmes-tuile", text: "tuile" }), tuile,
      el("label", { for: "mur-alarmes-priorite", text: "priorités" }), priorite);
  }

  /** A pushed alert: a new one of high enough priority shows its camera on the chosen tile. */
  alarme(a) {
    if (!this.alarmes?.actif || a.state !== "nouvelle" || !a.camera_id) return;
    if (a.priority > this.alarmes.priorite || !this.cameras.has(a.camera_id)) return;
    this.alarmesVues ??= new Set();
    if (this.alarmesVues.has(a.id)) return;
    this.alarmesVues.add(a.id);
    const i = Math.min(this.alarmes.tuile, MAX_TUILES) - 1;
    if (i >= this.disposition) this.changerDisposition(DISPOSITIONS.find((d) => d > i));
    if (this.tuiles[i].camera !== a.camera_id) this.affecter(i, a.camera_id);
    dire(`Alarme « ${a.title} » : caméra affichée dans la tuile ${i + 1}.`);
  }

  // -- tiles -----------------------------------------------------------------------------

  /** Show a tile's camera and its state before (or without) a player. */
  dessiner(i) {
    const t = this.tuiles[i];
    const n = this.noeuds[i];
    if (t.camera) n.noeud.dataset.camera = t.camera; else delete n.noeud.dataset.camera;
    n.nom.textContent = t.masque ? "Caméra masquée" : (t.camera ? (this.cameras.get(t.camera)?.name ?? t.nom ?? t.camera) : "");
    n.vider.hidden = !t.camera && !t.masque;
    n.detections.hidden = !t.camera;
    this.etat(i, t.masque ? "refus" : (t.camera ? "connexion" : "vide"));
  }

  etat(i, etat, message = "") {
    const n = this.noeuds[i];
    const libelle = ETATS_TUILE[etat] ?? etat;
    n.noeud.dataset.etat = etat;
    for (const e of Object.keys(ETATS_TUILE)) n.noeud.classList.toggle(`etat-${e}`, e === etat);
    n.etat.textContent = libelle;
    n.message.textContent = message && message !== libelle && !["direct", "connexion"].includes(etat) ? message : "";
    if (etat !== "direct") { n.latence.textContent = ""; delete n.noeud.dataset.latence; }
    const nom = n.nom.textContent;
    n.noeud.setAttribute("aria-label",
      `Tuile ${i + 1}${nom ? ` : ${nom}` : ""} — ${libelle}${message && message !== libelle ? ` (${message})` : ""}`);
  }

  latence(i, ms) {
    const n = this.noeuds[i];
    n.latence.textContent = `${ms} ms`;
    n.latence.classList.toggle("haute", ms >= LATENCE_HAUTE_MS);
    n.noeud.dataset.latence = String(ms);
  }

  async jouer(i) {
    this.arreter(i);
    this.dessiner(i);
    const t = this.tuiles[i];
    if (!t.camera || i >= this.disposition) return;
    const generation = this.generations[i];
    const openLive = await chargerLecteur();
    if (generation !== this.generations[i]) return; // the tile changed meanwhile
    const courant = () => generation === this.generations[i];
    try {
      this.lecteurs[i] = openLive(this.noeuds[i].video, {
        camera: t.camera, stream: this.seule === i ? "main" : "sub", csrf: csrfToken(),
        onState: (etat, message) => { if (courant()) this.etat(i, etat, message); },
        onLatency: (ms) => { if (courant()) this.latence(i, ms); },
      });
    } catch (e) {
      this.etat(i, "erreur", e.message);
    }
  }

  basculerDetections(i) {
    const n = this.noeuds[i];
    if (n.calque.actif) n.calque.arreter(); else if (this.tuiles[i].camera) n.calque.demarrer(this.tuiles[i].camera);
    n.detections.setAttribute("aria-pressed", String(n.calque.actif));
  }

  arreter(i) {
    this.noeuds[i].calque.arreter();
    this.noeuds[i].detections.setAttribute("aria-pressed", "false");
    this.generations[i] += 1;
    const lecteurTuile = this.lecteurs[i];
    this.lecteurs[i] = null;
    if (lecteurTuile) lecteurTuile.close();
  }

  toutArreter() {
    this.ptz?.fermer();
    this.ptz = null;
    for (let i = 0; i < MAX_TUILES; i++) this.arreter(i);
  }

  toutJouer() { for (let i = 0; i < MAX_TUILES; i++) this.jouer(i); }

  affecter(i, camera) {
    this.tuiles[i] = { camera, nom: null, masque: false };
    this.choisir(null);
    this.jouer(i);
    dire(`« ${this.cameras.get(camera).name} » affichée dans la tuile ${i + 1}.`);
  }

  vider(i) {
    if (this.seule === i) this.basculerSeule(i);
    this.tuiles[i] = VIDE;
    this.jouer(i);
    this.noeuds[i].noeud.focus();
  }

  /** Choose a camera (keyboard or click) to put on the next tile activated; null cancels. */
  choisir(camera) {
    this.choisie = camera === this.choisie ? null : camera;
    for (const b of this.boutonsCameras) b.setAttribute("aria-pressed", String(b.dataset.camera === this.choisie));
    this.grille.classList.toggle("choix-en-cours", this.choisie !== null);
    if (this.choisie) {
      dire(`Caméra « ${this.cameras.get(this.choisie).name} » choisie : activez une tuile (Entrée ou clic), Échap pour annuler.`);
    }
  }

  toucheTuile(ev, i) {
    if (ev.target !== ev.currentTarget) return; // the tile's own button
    if ((ev.key === "Enter" || ev.key === " ") && this.choisie) {
      ev.preventDefault();
      this.affecter(i, this.choisie);
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      this.basculerSeule(i);
    } else if (ev.key === "Delete" || ev.key === "Backspace") {
      ev.preventDefault();
      this.vider(i);
    }
  }

  /** Show tile i alone, full size, on the main stream; again (or null) returns to the grid. */
  basculerSeule(i) {
    const avant = this.seule;
    if (avant !== null) {
      this.noeuds[avant].noeud.classList.remove("agrandie");
      this.lecteurs[avant]?.setStream("sub");
      this.ptz?.fermer();
      this.ptz = null;
    }
    this.seule = i === avant || i === null || !this.tuiles[i].camera ? null : i;
    this.grille.classList.toggle("une-seule", this.seule !== null);
    if (this.seule !== null) {
      this.noeuds[i].noeud.classList.add("agrandie");
      this.lecteurs[i]?.setStream("main");
      const camera = this.cameras.get(this.tuiles[i].camera);
      const pilotable = camera?.ptz && camera.rights.includes("ptz");
      if (pilotable) this.ptz = new PanneauPtz(camera, this.noeuds[i].noeud);
      dire(`Tuile ${i + 1} en plein cadre (flux principal)${pilotable ? ", caméra orientable : flèches, + et −" : ""}. `
        + "Échap pour revenir à la grille.");
    }
    if (avant !== null && this.seule === null) this.noeuds[avant].noeud.focus();
  }

  changerDisposition(d) {
    if (this.seule !== null && this.seule >= d) this.basculerSeule(null);
    this.disposition = d;
    for (const c of DISPOSITIONS) this.grille.classList.toggle(`d${c}`, c === d);
    this.boutonsDisposition.forEach((b, k) => b.setAttribute("aria-pressed", String(DISPOSITIONS[k] === d)));
    this.noeuds.forEach((n, i) => {
      n.noeud.hidden = i >= d;
      if (i >= d) this.arreter(i);
      else if (this.tuiles[i].camera && !this.lecteurs[i]) this.jouer(i);
    });
  }

  modeMur() {
    this.zone.requestFullscreen().catch(() => dire("Le navigateur a refusé le plein écran.", true));
  }

  // -- views -------------------------------------------------------------------------------

  async chargerVues(selection = "") {
    const r = await api("GET", "/api/v1/views");
    this.vues = r.views;
    this.peutPartager = r.can_share;
    const miennes = this.vues.filter((v) => v.mine);
    const autres = this.vues.filter((v) => !v.mine);
    const option = (v, texte) => el("option", { value: String(v.id), text: texte });
    this.choixVue.replaceChildren(
      el("option", { value: "", text: "Vue libre (non enregistrée)" }),
      miennes.length ? el("optgroup", { label: "Mes vues" },
        miennes.map((v) => option(v, v.shared ? `${v.name} (partagée)` : v.name))) : null,
      autres.length ? el("optgroup", { label: "Vues partagées" },
        autres.map((v) => option(v, `${v.name} — partagée par ${v.owner_name}`))) : null);
    this.choixVue.value = String(selection);
    this.vue = this.vues.find((v) => String(v.id) === String(selection)) ?? null;
    this.majOutilsVue();
  }

  majOutilsVue() {
    this.boutonSupprimer.disabled = !this.vue?.deletable;
    this.champPartage.hidden = !this.peutPartager;
    this.partage.checked = Boolean(this.vue?.shared);
  }

  chargerVue(id) {
    this.vue = this.vues.find((v) => String(v.id) === id) ?? null;
    this.majOutilsVue();
    if (!this.vue) return;
    if (this.seule !== null) this.basculerSeule(null);
    this.toutArreter();
    this.tuiles = Array.from({ length: MAX_TUILES }, (_, i) => {
      const t = this.vue.tiles[i];
      return t ? { camera: t.camera, nom: t.name, masque: t.masque } : VIDE;
    });
    this.noeuds.forEach((_, i) => this.dessiner(i));
    this.changerDisposition(this.vue.layout);
    const masquees = this.vue.tiles.filter((t) => t.masque).length;
    dire(`Vue « ${this.vue.name} » chargée.`
      + (masquees ? ` ${masquees} tuile(s) masquée(s) : accès non autorisé.` : ""));
  }

  corps(nom) {
    return {
      name: nom, layout: this.disposition,
      tiles: this.tuiles.slice(0, this.disposition).map((t) => t.camera ?? null),
      shared: this.peutPartager && this.partage.checked,
    };
  }

  async enregistrer() {
    if (!this.vue?.editable) return this.enregistrerSous();
    const v = await api("PUT", `/api/v1/views/${this.vue.id}`, this.corps(this.vue.name));
    await this.chargerVues(v.id);
    dire(`Vue « ${v.name} » enregistrée.`);
  }

  async enregistrerSous() {
    const nom = prompt("Nom de la nouvelle vue :", this.vue?.name ?? "");
    if (!nom?.trim()) return;
    const v = await api("POST", "/api/v1/views", this.corps(nom.trim()));
    await this.chargerVues(v.id);
    dire(`Vue « ${v.name} » enregistrée${v.shared ? " et partagée avec votre commune" : ""}.`);
  }

  async supprimer() {
    const vue = this.vue;
    if (!vue?.deletable || !confirm(`Supprimer la vue « ${vue.name} » ?`)) return;
    await api("DELETE", `/api/v1/views/${vue.id}`);
    await this.chargerVues("");
    dire(`Vue « ${vue.name} » supprimée.`);
  }

  // -- screen ------------------------------------------------------------------------------

  touche(ev) {
    if (ev.key !== "Escape") return;
    if (this.seule !== null) this.basculerSeule(null);
    else if (this.choisie) { this.choisir(null); dire("Choix de caméra annulé."); }
  }
}

export async function vueMur() {
  const [{ tenants }, { cameras }] = await Promise.all([api("GET", "/api/v1/tenants"), api("GET", "/api/v1/cameras")]);
  const mur = new Mur(cameras.filter((c) => c.rights.includes("view_live")), tenants);
  await mur.chargerVues();
  const contenu = document.getElementById("contenu");
  afficher("Mur d'images", el("div", { class: "mur-ecran" },
    mur.arbre, el("section", { class: "mur-principal", "aria-label": "Mur" }, mur.outils, mur.zone)));
  contenu.classList.add("ecran-mur");
  // #/mur?camera=<id> (the alert card's « Voir le direct »): that camera alone, on the main stream
  const voulue = parametresVue().get("camera");
  if (voulue && mur.cameras.has(voulue)) { mur.affecter(0, voulue); mur.basculerSeule(0); }
  // the alerts' push, only where the user handles alerts (the stream refuses others)
  const fermerAlarmes = peut("handle_alerts") ? ecouterAlertes((a) => mur.alarme(a)) : () => {};
  const touche = (ev) => mur.touche(ev);
  const cache = () => mur.toutArreter();
  const revient = (ev) => { if (ev.persisted) mur.toutJouer(); };
  document.addEventListener("keydown", touche);
  window.addEventListener("pagehide", cache);
  window.addEventListener("pageshow", revient);
  enQuittant(() => {
    fermerAlarmes();
    mur.toutArreter();
    document.removeEventListener("keydown", touche);
    window.removeEventListener("pagehide", cache);
    window.removeEventListener("pageshow", revient);
    contenu.classList.remove("ecran-mur");
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  });
}
