// PTZ controls of a tile shown alone: a direction pad and zoom held down with the
// mouse (or the arrow keys, + and - on the focused tile), the home position, presets,
// and the PTZ lock (who steers; take over when one's rank allows; give back).
// A move is repeated every second while held: the server's move lasts two seconds,
// so the camera stops by itself if this page goes away without saying "stop".

import { api, dire, el } from "./lib.js";

const REPETITION_MS = 1000;
const DIRECTIONS = [
  ["↖", "Haut gauche", -1, 1], ["↑", "Haut", 0, 1], ["↗", "Haut droite", 1, 1],
  ["←", "Gauche", -1, 0], null, ["→", "Droite", 1, 0],
  ["↙", "Bas gauche", -1, -1], ["↓", "Bas", 0, -1], ["↘", "Bas droite", 1, -1],
];
const TOUCHES = {
  ArrowUp: [0, 1, 0], ArrowDown: [0, -1, 0], ArrowLeft: [-1, 0, 0], ArrowRight: [1, 0, 0],
  "+": [0, 0, 1], "=": [0, 0, 1], "-": [0, 0, -1],
};

export class PanneauPtz {
  /** PTZ panel for ``camera`` inside the tile node ``tuile`` (which gets the keys). */
  constructor(camera, tuile) {
    this.camera = camera;
    this.tuile = tuile;
    this.url = `/api/v1/cameras/${encodeURIComponent(camera.id)}/ptz`;
    this.mouvement = null; // [pan, tilt, zoom] held now
    this.minuterie = null;
    this.verrou = null;
    this.creer();
    this.touche = (ev) => this.clavier(ev, true);
    this.relache = (ev) => this.clavier(ev, false);
    tuile.addEventListener("keydown", this.touche);
    tuile.addEventListener("keyup", this.relache);
    tuile.append(this.noeud);
    this.actualiser().catch((e) => this.afficherEtat(e.message, true));
  }

  creer() {
    const vitesses = [["0.25", "Lente"], ["0.5", "Moyenne"], ["1", "Rapide"]];
    this.vitesse = el("select", { "aria-label": "Vitesse" }, vitesses.map(([v, t]) => el("option", { value: v, text: t })));
    this.vitesse.value = "0.5";
    const maintenu = (libelle, texte, vecteur, classe = "") => el("button", {
      type: "button", class: `ptz-bouton ${classe}`, text: texte, title: libelle, "aria-label": libelle,
      onpointerdown: (ev) => { ev.preventDefault(); ev.currentTarget.setPointerCapture?.(ev.pointerId); this.demarrer(vecteur); },
      onpointerup: () => this.arreter(),
      onpointercancel: () => this.arreter(),
      onlostpointercapture: () => this.arreter(),
      onkeydown: (ev) => { if ((ev.key === "Enter" || ev.key === " ") && !ev.repeat) { ev.preventDefault(); this.demarrer(vecteur); } },
      onkeyup: (ev) => { if (ev.key === "Enter" || ev.key === " ") this.arreter(); },
    });
    const pave = DIRECTIONS.map((d) => d
      ? maintenu(d[1], d[0], [d[2], d[3], 0])
      : el("button", { type: "button", class: "ptz-bouton", text: "⌂", title: "Position d'origine",
        "aria-label": "Position d'origine", onclick: () => this.envoyer({ action: "home" }, "Retour à la position d'origine.") }));
    this.etat = el("p", { class: "ptz-etat", role: "status" });
    this.prendre = el("button", { type: "button", class: "secondaire", text: "Prendre la main", hidden: true,
      onclick: () => this.prendreMain() });
    this.rendre = el("button", { type: "button", class: "secondaire", text: "Rendre la main", hidden: true,
      onclick: () => this.rendreMain() });
    this.prereglages = el("select", { "aria-label": "Préréglages" });
    this.noeud = el("section", {
      class: "ptz", "aria-label": `Pilotage PTZ de ${this.camera.name}`,
      // the panel's clicks must not reach the tile (double-click leaves full screen)
      onclick: (ev) => ev.stopPropagation(), ondblclick: (ev) => ev.stopPropagation(),
    },
      el("div", { class: "ptz-pave", role: "group", "aria-label": "Orientation" }, pave),
      el("div", { class: "ptz-zoom", role: "group", "aria-label": "Zoom" },
        maintenu("Zoom avant", "+", [0, 0, 1]), maintenu("Zoom arrière", "−", [0, 0, -1]), this.vitesse),
      el("div", { class: "ptz-prereglages" },
        this.prereglages,
        el("button", { type: "button", text: "Aller", onclick: () => this.allerPrereglage() }),
        el("button", { type: "button", class: "secondaire", text: "Mémoriser…", onclick: () => this.memoriser() }),
        el("button", { type: "button", class: "secondaire", text: "Effacer", onclick: () => this.effacer() })),
      el("div", { class: "ptz-verrou" }, this.etat, this.prendre, this.rendre));
  }

  afficherEtat(texte, erreur = false) {
    this.etat.textContent = texte;
    this.etat.classList.toggle("erreur", erreur);
  }

  montrerVerrou(verrou, garderMessage = false) {
    this.verrou = verrou;
    this.prendre.hidden = !verrou || verrou.mine;
    this.rendre.hidden = !verrou?.mine;
    this.noeud.dataset.verrou = !verrou ? "libre" : (verrou.mine ? "moi" : "autre");
    if (garderMessage) return;
    if (!verrou) this.afficherEtat("Libre : la première commande vous donne la main.");
    else if (verrou.mine) this.afficherEtat("Vous pilotez cette caméra.");
    else {
      const fin = new Date(verrou.expires_at).toLocaleTimeString("fr-FR");
      this.afficherEtat(`Pilotée par ${verrou.holder} (jusqu'à ${fin} sans commande).`);
    }
  }

  /** Reload the lock and the presets (``garderMessage``: leave the error on show). */
  async actualiser(garderMessage = false) {
    const etat = await api("GET", this.url);
    this.montrerVerrou(etat.lock, garderMessage);
    const choix = this.prereglages.value;
    this.prereglages.replaceChildren(
      el("option", { value: "", text: etat.presets.length ? "Préréglage…" : "Aucun préréglage" }),
      ...etat.presets.map((p) => el("option", { value: p.token, text: p.name || p.token })));
    this.prereglages.value = etat.presets.some((p) => p.token === choix) ? choix : "";
  }

  /** Send a command; a refusal (camera steered by someone else...) is shown, not thrown. */
  async envoyer(commande, annonce = "") {
    try {
      const r = await api("POST", this.url, commande);
      if (!this.verrou?.mine) await this.actualiser();
      if (annonce) dire(annonce);
      return r;
    } catch (e) {
      this.finMouvement();
      this.afficherEtat(e.message, true);
      if (e.status === 409) this.actualiser(true).catch(() => {});
      return null;
    }
  }

  demarrer([pan, tilt, zoom]) {
    const v = Number(this.vitesse.value);
    const vecteur = [pan * v, tilt * v, zoom * v];
    if (this.mouvement && vecteur.every((x, k) => x === this.mouvement[k])) return;
    this.mouvement = vecteur;
    const envoi = () => this.envoyer({ action: "move", pan: vecteur[0], tilt: vecteur[1], zoom: vecteur[2] });
    clearInterval(this.minuterie);
    this.minuterie = setInterval(envoi, REPETITION_MS);
    envoi();
  }

  finMouvement() {
    clearInterval(this.minuterie);
    this.minuterie = null;
    const enCours = this.mouvement !== null;
    this.mouvement = null;
    return enCours;
  }

  arreter() {
    if (this.finMouvement()) this.envoyer({ action: "stop" });
  }

  clavier(ev, bas) {
    if (ev.target !== this.tuile) return; // keys of the panel's own controls stay theirs
    if (ev.key === "Home" && bas) {
      ev.preventDefault();
      this.envoyer({ action: "home" }, "Retour à la position d'origine.");
      return;
    }
    const vecteur = TOUCHES[ev.key];
    if (!vecteur) return;
    ev.preventDefault();
    if (!bas) this.arreter();
    else if (!ev.repeat) this.demarrer(vecteur);
  }

  async allerPrereglage() {
    if (!this.prereglages.value) { this.afficherEtat("Choisissez un préréglage.", true); return; }
    const nom = this.prereglages.selectedOptions[0].textContent;
    await this.envoyer({ action: "goto_preset", preset: this.prereglages.value }, `Préréglage « ${nom} » atteint.`);
  }

  async memoriser() {
    const nom = prompt("Nom du préréglage (position actuelle) :");
    if (!nom?.trim()) return;
    const r = await this.envoyer({ action: "set_preset", name: nom.trim() }, `Préréglage « ${nom.trim()} » mémorisé.`);
    if (r) { await this.actualiser(); this.prereglages.value = r.token; }
  }

  async effacer() {
    if (!this.prereglages.value) { this.afficherEtat("Choisissez un préréglage.", true); return; }
    const nom = this.prereglages.selectedOptions[0].textContent;
    if (!confirm(`Effacer le préréglage « ${nom} » ?`)) return;
    if (await this.envoyer({ action: "remove_preset", preset: this.prereglages.value }, `Préréglage « ${nom} » effacé.`)) {
      await this.actualiser();
    }
  }

  async prendreMain() {
    try {
      const r = await api("POST", `${this.url}/lock`, { takeover: true });
      this.montrerVerrou(r.lock);
      dire(r.previous ? `Vous avez pris la main sur ${r.previous}.` : "Vous pilotez cette caméra.");
    } catch (e) {
      this.afficherEtat(e.message, true);
    }
  }

  async rendreMain() {
    this.finMouvement();
    try {
      await api("DELETE", `${this.url}/lock`);
      dire("Main rendue.");
    } catch (e) {
      this.afficherEtat(e.message, true);
    }
    await this.actualiser().catch(() => {});
  }

  /** The tile leaves full screen: stop, give the camera back if held, remove the panel. */
  fermer() {
    this.tuile.removeEventListener("keydown", this.touche);
    this.tuile.removeEventListener("keyup", this.relache);
    this.noeud.remove();
    const bougeait = this.finMouvement();
    if (this.verrou?.mine) api("DELETE", `${this.url}/lock`).catch(() => {});
    else if (bougeait) api("POST", this.url, { action: "stop" }).catch(() => {});
  }
}
