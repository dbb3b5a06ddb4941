// Video analytics ("Analyse vidéo", CSD-05, CSD-12, LAW-10): three screens under
// #/analyse — the rule editor of a camera ("Configuration": zones and lines drawn over
// its recorded picture, a form per rule, the legal basis), the events raised by the
// rules ("Évènements", polled every 2 s, boxes drawn over each snapshot) and the line
// counts ("Comptages", a bar chart drawn on a canvas and a CSV built here) — and the
// live detections overlay of a wall tile (``Detections``, used by wall.js).
//
// The server decides: the configuration is validated by the API (LAW-10 refusals
// included), whose French messages are shown as they come. Coordinates are normalised
// to the picture (0..1, origin top left) everywhere.

import { api, afficher, champ, choix, dire, el, enQuittant, ErreurApi, parametresVue } from "./lib.js";
import { dateHeure, depuisChamp, versChamp } from "./exports.js";

export const TYPES = {
  intrusion: "Intrusion dans une zone", comptage: "Comptage sur une ligne", contresens: "Contresens",
  personne_au_sol: "Personne au sol", objet_abandonne: "Objet abandonné", densite: "Densité excessive",
  mouvement_foule: "Mouvement de foule", arme: "Arme", depart_de_feu: "Départ de feu",
};
const JOURS = { lun: "Lu", mar: "Ma", mer: "Me", jeu: "Je", ven: "Ve", sam: "Sa", dim: "Di" };
const SENS = { direct: "sens direct", inverse: "sens inverse" };
const PAS = { "15min": "Quart d'heure", hour: "Heure", day: "Jour" };
const PAS_MS = { "15min": 900_000, hour: 3_600_000 };
const SONDAGE_MS = 2000;
const DIRECT_MS = 1000;
const PERIME_MS = 10_000; // live detections older than this are not drawn
const JOUR_MS = 86_400_000;
const COULEURS = ["#000091", "#c9191e", "#18753c", "#b34000", "#a558a0", "#0078b3", "#716043", "#e4794a", "#417dc4", "#66673d"];
const PRISE_PX = 9; // how close (CSS pixels) the pointer must be to grab a point
const PAS_CLAVIER = 0.01; // arrow keys move a point by 1 % of the picture (Shift: 0.1 %)

/** Inline styles through the CSSOM (the console's CSP refuses style attributes). */
function avecStyle(noeud, styles) { Object.assign(noeud.style, styles); return noeud; }
const pastille = (k) => avecStyle(el("span", { class: "pastille" }), { background: COULEURS[k % COULEURS.length] });

const ONGLETS = { configuration: "Configuration", evenements: "Évènements", comptages: "Comptages" };

// -- rule kinds: geometry and fields ---------------------------------------------------------

/** Where a kind keeps its geometry: a polygon field, or the line [a, b]. */
const GEOMETRIE = {
  intrusion: { polygone: "zone" }, densite: { polygone: "zone" }, mouvement_foule: { polygone: "zone" },
  contresens: { polygone: "lane", direction: true }, comptage: { ligne: true },
};
const classes = (name, label, defaut) => ({ name, label, type: "classes", defaut });
const nombre = (name, label, defaut, min, max, pas = "any", requis = false) => ({ name, label, type: "nombre", defaut, min, max, pas, requis });
const CLASSES_PERSONNES = classes("person_classes", "Classes de personnes", ["person"]);
/** The fields of each kind besides id, enabled, model, min_confidence and schedule
 *  (analytics/rules/config.py); ``defaut`` null: the field is left out unless filled. */
const CHAMPS = {
  intrusion: [
    classes("classes", "Classes surveillées", ["person"]),
    nombre("min_dwell_s", "Présence minimale dans la zone (s)", 0, 0, 3600),
    { name: "mode", label: "Mode", type: "choix", defaut: "presence",
      options: { presence: "Présence dans la zone", franchissement: "Franchissement (vu d'abord dehors)" } },
  ],
  comptage: [classes("classes", "Classes comptées", ["person"])],
  contresens: [
    classes("classes", "Classes surveillées", []),
    nombre("min_distance", "Déplacement minimal avant de juger (largeurs d'image)", 0.1, 0.01, 1),
    nombre("max_angle_deg", "Écart d'angle déclenchant l'alerte (°)", 120, 90, 180),
    nombre("window_s", "Durée de mesure du déplacement (s)", 5, 0.1, 120),
  ],
  personne_au_sol: [
    classes("fall_classes", "Classes « personne au sol » du modèle", []),
    CLASSES_PERSONNES,
    { name: "use_geometry", label: "Juger aussi par la forme de la boîte (couchée)", type: "case", defaut: true },
    nombre("min_ratio", "Rapport largeur/hauteur d'une boîte couchée", 1.2, 1, 10),
    nombre("min_duration_s", "Durée minimale au sol (s)", 3, 0, 600),
  ],
  objet_abandonne: [
    nombre("min_static_s", "Objet immobile depuis (s)", 60, 1, 3600),
    nombre("person_absent_s", "Sans personne à proximité depuis (s)", 30, 0, 3600),
    nombre("person_radius", "Rayon de proximité (largeurs d'image)", 0.1, 0.01, 1),
    CLASSES_PERSONNES,
    classes("object_classes", "Classes de sacs et d'objets", []),
  ],
  densite: [
    nombre("area_m2", "Surface réelle de la zone (m²)", null, 0.01, 1_000_000, "any", true),
    nombre("max_per_m2", "Seuil d'alerte (personnes par m²)", null, 0.01, 20, "any", true),
    nombre("min_duration_s", "Durée minimale au-dessus du seuil (s)", 10, 0, 3600),
    CLASSES_PERSONNES,
  ],
  mouvement_foule: [
    nombre("factor", "Facteur de hausse de la vitesse moyenne", 3, 1.01, 100),
    nombre("min_tracks", "Pistes en mouvement nécessaires", 5, 2, 1000, "1"),
    nombre("min_speed", "Vitesse moyenne minimale (largeurs d'image par s)", 0.05, 0, 10),
    nombre("baseline_s", "Fenêtre de la médiane (s)", 60, 5, 3600),
    nombre("min_baseline_samples", "Échantillons nécessaires à la médiane", 20, 1, 10_000, "1"),
    CLASSES_PERSONNES,
  ],
  arme: [
    classes("classes", "Classes d'armes du modèle", []),
    nombre("min_duration_s", "Durée minimale de détection (s)", 1, 0, 600),
    nombre("gap_s", "Interruption qui clôt l'épisode (s)", 2, 0.1, 60),
  ],
};
CHAMPS.depart_de_feu = CHAMPS.arme.map((c) => (c.name === "classes" ? classes("classes", "Classes « feu » ou « fumée » du modèle", []) : c));

const confianceParDefaut = (kind) => (kind === "arme" || kind === "depart_de_feu" ? 0.5 : 0.3);

/** The vertices a rule draws: its polygon, or its line's two ends. */
function points(regle) {
  const g = GEOMETRIE[regle.kind];
  if (!g) return [];
  if (g.ligne) return [regle.a, regle.b].filter(Boolean);
  return regle[g.polygone] ?? [];
}
function poserPoints(regle, pts) {
  const g = GEOMETRIE[regle.kind];
  const arrondi = pts.map(([x, y]) => [borne(x), borne(y)]);
  if (g.ligne) { regle.a = arrondi[0]; regle.b = arrondi[1]; if (!regle.b) delete regle.b; if (!regle.a) delete regle.a; }
  else regle[g.polygone] = arrondi;
}
const borne = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10_000) / 10_000;
const estLigne = (regle) => Boolean(GEOMETRIE[regle.kind]?.ligne);
const complet = (regle) => points(regle).length >= (estLigne(regle) ? 2 : 3);
const centre = (pts) => [pts.reduce((s, p) => s + p[0], 0) / pts.length, pts.reduce((s, p) => s + p[1], 0) / pts.length];

/** A new rule of ``kind`` with the defaults of its fields and no geometry yet. */
function nouvelleRegle(kind, ids) {
  let n = 1;
  while (ids.has(`${kind.replaceAll("_", "-")}-${n}`)) n += 1;
  const regle = { id: `${kind.replaceAll("_", "-")}-${n}`, kind, enabled: true, schedule: [], min_confidence: confianceParDefaut(kind) };
  for (const c of CHAMPS[kind] ?? []) if (c.defaut !== null) regle[c.name] = Array.isArray(c.defaut) ? [...c.defaut] : c.defaut;
  if (GEOMETRIE[kind]?.polygone) regle[GEOMETRIE[kind].polygone] = [];
  if (GEOMETRIE[kind]?.direction) regle.direction = [1, 0];
  return regle;
}

// -- screen ----------------------------------------------------------------------------------

/** #/analyse?onglet=configuration|evenements|comptages */
export async function vueAnalyse() {
  const { cameras } = await api("GET", "/api/v1/cameras");
  const configurables = cameras.filter((c) => c.rights.includes("configure_analytics"));
  const visibles = cameras.filter((c) => c.rights.includes("view_live") || c.rights.includes("playback"));
  const p = parametresVue();
  const offerts = Object.keys(ONGLETS).filter((o) => o !== "configuration" || configurables.length);
  const onglet = offerts.includes(p.get("onglet")) ? p.get("onglet") : offerts[0];
  const barre = el("nav", { class: "analyse-onglets", "aria-label": "Écrans d'analyse" },
    el("ul", {}, offerts.map((o) => el("li", {}, el("a", {
      href: `#/analyse?onglet=${o}`, "aria-current": o === onglet ? "page" : false, text: ONGLETS[o],
    })))));
  let contenu;
  if (onglet === "configuration") contenu = await ecranConfiguration(configurables, p.get("camera"));
  else if (onglet === "evenements") contenu = ecranEvenements(visibles);
  else contenu = ecranComptages(cameras);
  afficher(`Analyse vidéo — ${ONGLETS[onglet]}`, barre, contenu.noeud);
  document.getElementById("contenu").classList.add("ecran-analyse");
  const sortie = contenu.quitter;
  enQuittant(() => { sortie?.(); document.getElementById("contenu").classList.remove("ecran-analyse"); });
  contenu.apres?.();
}

/** A camera picker (a select) over ``cameras``, grouped by commune. */
function choixCamera(cameras, valeur, { vide = null, id = "analyse-camera" } = {}) {
  const communes = new Map();
  for (const c of cameras) communes.set(c.tenant_name ?? c.tenant, [...(communes.get(c.tenant_name ?? c.tenant) ?? []), c]);
  const select = el("select", { id, name: "camera" },
    vide !== null ? el("option", { value: "", text: vide }) : null,
    [...communes].map(([commune, cams]) => el("optgroup", { label: commune },
      cams.map((c) => el("option", { value: c.id, selected: c.id === valeur, text: c.name })))));
  return [el("label", { for: id, text: "Caméra" }), select];
}

// -- "Configuration" ------------------------------------------------------------------------

async function ecranConfiguration(cameras, voulue) {
  if (!cameras.length) return { noeud: el("p", { text: "Aucune caméra de votre périmètre ne vous est confiée pour l'analyse." }) };
  const camera = cameras.find((c) => c.id === voulue) ?? cameras[0];
  const [label, select] = choixCamera(cameras, camera.id);
  select.addEventListener("change", () => { location.hash = `#/analyse?onglet=configuration&camera=${encodeURIComponent(select.value)}`; });
  const editeur = new Editeur(camera, await api("GET", `/api/v1/cameras/${encodeURIComponent(camera.id)}/analytics`));
  return {
    noeud: el("div", {}, el("div", { class: "carte analyse-choix" }, label, select), editeur.noeud),
    quitter: () => editeur.fermer(),
    apres: () => editeur.dessiner(),
  };
}

class Editeur {
  constructor(camera, reponse) {
    this.camera = camera;
    this.kinds = reponse.kinds ?? Object.keys(TYPES);
    this.modeles = this.modelesDe(reponse);
    this.charger(reponse);
    this.selection = this.config.rules.length ? 0 : -1;
    this.point = null; // index of the selected vertex of the selected rule
    this.trace = false; // drawing the selected rule's geometry, click by click
    this.saisie = null; // the vertex (or arrow head) being dragged
    this.image = null;
    this.construire();
    this.chargerImage(new Date(Date.now() - 10_000));
    this.redimension = new ResizeObserver(() => this.dessiner());
    this.redimension.observe(this.cadre);
  }

  /** The detector models a new configuration lists: those the installation runs, as
   *  the API gives them (model file path or id -> classes); the administrator may name
   *  them and give their version (recorded with every alert, LAW-10). */
  modelesDe(reponse) {
    const ids = new Set();
    return Object.entries(reponse.models ?? {}).map(([chemin, classesM]) => {
      const nom = chemin.split("/").pop().replace(/\.[a-z0-9]+$/i, "") || "modele";
      let id = nom.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[^a-z0-9_-]+/g, "-")
        .replace(/^[^a-z0-9]+/, "").slice(0, 60) || "modele";
      while (ids.has(id)) id = `${id}-2`;
      ids.add(id);
      return { id, name: nom, version: chemin, classes: [...classesM] };
    });
  }

  charger(reponse) {
    const c = reponse.config;
    this.existe = Boolean(c);
    this.majPar = reponse.updated_by ? `Enregistrée par ${reponse.updated_by} le ${dateHeure(reponse.updated_at)}.` : "";
    this.config = c ? structuredClone(c) : {
      camera_id: this.camera.id, enabled: true, legal_basis: null, models: structuredClone(this.modeles), rules: [],
    };
    for (const r of this.config.rules) r.schedule ??= [];
  }

  get regle() { return this.config.rules[this.selection] ?? null; }
  classesDu(regle) {
    const id = regle?.model || this.config.models[0]?.id;
    return this.config.models.find((m) => m.id === id)?.classes ?? [];
  }

  // -- building ------------------------------------------------------------------------------

  construire() {
    this.canvas = el("canvas", {
      class: "analyse-canvas", tabindex: "0", role: "application", "aria-roledescription": "éditeur de zones",
      "aria-label": `Zones et lignes de ${this.camera.name}`, "aria-describedby": "aide-editeur",
      onpointerdown: (ev) => this.appui(ev), onpointermove: (ev) => this.deplacement(ev),
      onpointerup: (ev) => this.relache(ev), onpointercancel: (ev) => this.relache(ev),
      ondblclick: (ev) => { ev.preventDefault(); if (this.trace) this.terminerTrace(); },
      oncontextmenu: (ev) => this.menu(ev),
      onkeydown: (ev) => this.touche(ev),
    });
    this.cadre = el("div", { class: "analyse-cadre" }, this.canvas);
    this.etatImage = el("p", { class: "droits", "aria-live": "polite" });
    this.instant = el("input", { id: "analyse-instant", type: "datetime-local", step: "1", value: versChamp(Date.now() - 10_000) });
    this.consigne = el("p", { class: "analyse-consigne", "aria-live": "polite" });
    this.boutonPoint = el("button", { type: "button", class: "secondaire", text: "Supprimer le point choisi", disabled: true,
      onclick: () => this.supprimerPoint() });
    const image = el("div", { class: "analyse-image" },
      el("label", { for: "analyse-instant", text: "Image enregistrée à" }), this.instant,
      el("button", { type: "button", class: "secondaire", text: "Afficher cette image",
        onclick: () => { try { this.chargerImage(new Date(depuisChamp(this.instant.value, "Image"))); } catch (e) { dire(e.message, true); } } }));
    this.liste = el("ul", { class: "analyse-regles", "aria-label": "Règles de la caméra" });
    this.nouveauType = el("select", { id: "analyse-nouveau-type" },
      this.kinds.map((k) => el("option", { value: k, text: TYPES[k] ?? k })));
    this.formRegle = el("div", { class: "analyse-regle" });
    this.erreur = el("p", { class: "annonce erreur analyse-erreur", role: "alert" });
    this.actif = el("input", { type: "checkbox", name: "enabled", checked: this.config.enabled !== false });
    const base = this.config.legal_basis ?? {};
    this.form = el("form", { class: "carte large analyse-formulaire", "aria-label": "Configuration de l'analyse", novalidate: true },
      el("fieldset", { class: "analyse-base" }, el("legend", { text: "Base légale (arrêté préfectoral, LAW-10)" }),
        ...champ("Référence de l'arrêté préfectoral", { name: "reference", value: base.reference ?? "", maxlength: "200" }),
        el("div", { class: "deux" },
          el("div", {}, ...champ("Valable du", { name: "valid_from", type: "date", value: base.valid_from ?? "" })),
          el("div", {}, ...champ("Valable jusqu'au", { name: "valid_to", type: "date", value: base.valid_to ?? "" })))),
      el("label", { class: "bascule" }, this.actif, el("span", { text: "Analyse active sur cette caméra" })),
      this.champModeles(),
      el("h2", { text: "Règles" }),
      this.liste,
      el("div", { class: "analyse-ajout" },
        el("label", { for: "analyse-nouveau-type", text: "Type de la nouvelle règle" }), this.nouveauType,
        el("button", { type: "button", class: "secondaire", text: "Ajouter la règle", onclick: () => this.ajouter(this.nouveauType.value) })),
      this.formRegle,
      this.erreur,
      el("div", { class: "boutons" },
        el("button", { type: "submit", text: "Enregistrer la configuration" }),
        el("button", { type: "button", class: "danger", text: "Désactiver", disabled: !this.existe, onclick: () => this.desactiver() })),
      el("p", { class: "droits analyse-maj", text: this.majPar }));
    this.form.addEventListener("submit", (ev) => { ev.preventDefault(); this.enregistrer(); });
    this.boutonDesactiver = this.form.querySelector("button.danger");
    this.noeud = el("div", { class: "analyse-editeur" },
      el("section", { class: "analyse-dessin", "aria-label": "Dessin" }, this.cadre, this.consigne,
        el("p", { class: "analyse-outils" }, this.boutonPoint), this.etatImage, image,
        el("p", { id: "aide-editeur", class: "droits", text:
          "Souris : cliquez pour poser les points de la règle choisie (double-clic ou Entrée pour fermer une zone), "
          + "faites glisser un point pour le déplacer, un point milieu pour en insérer un. Clavier sur l'image : "
          + "Page suivante / précédente choisit un point, les flèches le déplacent (Maj : finement), Suppr l'efface, "
          + "Inser ajoute un point après lui, Échap arrête le tracé. Clic droit sur un point : l'effacer." })),
      this.form);
    this.majListe();
    this.majFormRegle();
  }

  /** Name and version of each detector model (recorded with every alert). */
  champModeles() {
    const modeles = this.config.models;
    return el("fieldset", { class: "analyse-modeles" }, el("legend", { text: "Modèles de détection" }),
      modeles.length ? modeles.map((m, k) => el("div", { class: "deux", role: "group", "aria-label": `Modèle ${m.id}` },
        el("div", {}, ...champ(`Nom du modèle « ${m.id} »`, { id: `modele-${k}-nom`, value: m.name, maxlength: "100",
          oninput: (ev) => { m.name = ev.target.value.trim(); } })),
        el("div", {}, ...champ(`Version du modèle « ${m.id} »`, { id: `modele-${k}-version`, value: m.version, maxlength: "100",
          oninput: (ev) => { m.version = ev.target.value.trim(); } })),
        el("p", { class: "droits", text: `${m.classes.length} classe(s) : ${m.classes.slice(0, 12).join(", ")}${m.classes.length > 12 ? "…" : ""}` })))
        : el("p", { class: "droits", text: "Aucun modèle de détection n'est installé sur ce serveur." }));
  }

  majListe() {
    this.liste.replaceChildren(...this.config.rules.map((r, i) => el("li", {},
      el("button", {
        type: "button", class: "secondaire", "aria-pressed": String(i === this.selection), "data-regle": r.id,
        onclick: () => this.choisir(i),
      }, pastille(i),
      el("span", { text: `${r.id} — ${TYPES[r.kind] ?? r.kind}${r.enabled === false ? " (inactive)" : ""}` })))));
    if (!this.config.rules.length) this.liste.append(el("li", { class: "droits", text: "Aucune règle : ajoutez-en une." }));
  }

  choisir(i) {
    this.selection = i;
    this.point = null;
    this.trace = this.regle ? Boolean(GEOMETRIE[this.regle.kind]) && !complet(this.regle) : false;
    this.majListe();
    this.majFormRegle();
    this.dessiner();
  }

  ajouter(kind) {
    const regle = nouvelleRegle(kind, new Set(this.config.rules.map((r) => r.id)));
    this.config.rules.push(regle);
    this.choisir(this.config.rules.length - 1);
    if (this.trace) this.canvas.focus();
    dire(`Règle « ${regle.id} » ajoutée${this.trace ? " : tracez-la sur l'image" : ""}.`);
  }

  /** The form of the selected rule: common fields, those of its kind, its schedule. */
  majFormRegle() {
    const r = this.regle;
    if (!r) { this.formRegle.replaceChildren(); this.consigner(); return; }
    const maj = () => { this.majListe(); this.dessiner(); };
    const id = el("input", { id: "regle-id", name: "regle-id", value: r.id, maxlength: "64", pattern: "[a-z0-9][a-z0-9_-]*",
      "aria-describedby": "regle-id-aide", oninput: () => { r.id = id.value.trim(); maj(); } });
    const active = el("input", { type: "checkbox", checked: r.enabled !== false, onchange: () => { r.enabled = active.checked; maj(); } });
    const modeles = this.config.models;
    const modele = modeles.length > 1 ? choix("Modèle de détection", "regle-modele",
      Object.fromEntries(modeles.map((m, i) => [i === 0 ? "" : m.id, `${m.name} ${m.version}${i === 0 ? " (par défaut)" : ""}`])),
      r.model ?? "", { onchange: (ev) => { if (ev.target.value) r.model = ev.target.value; else delete r.model; this.majFormRegle(); } }) : [];
    const confiance = this.champNombre(r, nombre("min_confidence", "Confiance minimale (0 à 1)", confianceParDefaut(r.kind), 0, 1));
    const g = GEOMETRIE[r.kind];
    this.formRegle.replaceChildren(el("fieldset", { class: "analyse-champs", "data-type": r.kind },
      el("legend", { text: `Règle « ${r.id} » — ${TYPES[r.kind] ?? r.kind}` }),
      el("label", { for: "regle-id", text: "Identifiant de la règle" }), id,
      el("p", { id: "regle-id-aide", class: "droits", text: "Minuscules, chiffres, - et _ ; unique sur la caméra." }),
      el("label", { class: "bascule" }, active, el("span", { text: "Règle active" })),
      ...modele,
      ...(CHAMPS[r.kind] ?? []).flatMap((c) => this.champ(r, c)),
      ...confiance,
      g ? this.champPoints(r) : el("p", { class: "droits", text: "Cette règle porte sur toute l'image : rien à tracer." }),
      this.champHoraires(r),
      el("button", { type: "button", class: "secondaire", text: g ? "Retracer" : "", hidden: !g,
        onclick: () => { poserPoints(r, []); this.trace = true; this.point = null; this.majPoints(); this.dessiner(); this.canvas.focus(); } }),
      el("button", { type: "button", class: "danger", text: "Supprimer la règle", onclick: () => this.supprimerRegle() })));
    this.consigner();
  }

  champ(r, c) {
    if (c.type === "nombre") return this.champNombre(r, c);
    const id = `regle-${c.name}`;
    if (c.type === "case") {
      const caseC = el("input", { type: "checkbox", id, checked: r[c.name] ?? c.defaut, onchange: () => { r[c.name] = caseC.checked; } });
      return [el("label", { class: "bascule" }, caseC, el("span", { text: c.label }))];
    }
    if (c.type === "choix") {
      return choix(c.label, id, c.options, r[c.name] ?? c.defaut, { onchange: (ev) => { r[c.name] = ev.target.value; } });
    }
    // classes: the model's as check boxes, others typed (the API refuses what the law excludes)
    const duModele = this.classesDu(r);
    const courantes = r[c.name] ?? [];
    const autres = el("input", { id: `${id}-autres`, value: courantes.filter((k) => !duModele.includes(k)).join(", "), maxlength: "500" });
    const cases = duModele.map((k) => el("input", { type: "checkbox", value: k, checked: courantes.includes(k) }));
    const lire = () => {
      r[c.name] = [...cases.filter((x) => x.checked).map((x) => x.value),
        ...autres.value.split(",").map((s) => s.trim()).filter(Boolean)];
    };
    for (const x of [...cases, autres]) x.addEventListener("change", lire);
    autres.addEventListener("input", lire);
    return [el("fieldset", { class: "analyse-classes", "data-champ": c.name }, el("legend", { text: c.label }),
      duModele.length ? el("div", { class: "analyse-cases" }, cases.map((x) => el("label", { class: "bascule" }, x, el("span", { text: x.value }))))
        : el("p", { class: "droits", text: "Le modèle ne déclare aucune classe." }),
      el("label", { for: `${id}-autres`, text: "Autres classes (séparées par des virgules)" }), autres)];
  }

  champNombre(r, c) {
    const id = `regle-${c.name}`;
    const input = el("input", { id, type: "number", min: String(c.min), max: String(c.max), step: c.pas, required: c.requis,
      value: r[c.name] ?? "", placeholder: c.defaut === null ? "" : String(c.defaut) });
    input.addEventListener("input", () => {
      if (input.value === "") delete r[c.name];
      else r[c.name] = c.pas === "1" ? Math.round(Number(input.value)) : Number(input.value);
    });
    return [el("label", { for: id, text: c.label }), input];
  }

  /** The points as text (x y per line): the keyboard's way to give a geometry exactly. */
  champPoints(r) {
    this.textePoints = el("textarea", { id: "regle-points", rows: "4", "aria-describedby": "regle-points-aide" });
    this.textePoints.addEventListener("change", () => {
      const pts = this.textePoints.value.split("\n").map((l) => l.trim()).filter(Boolean)
        .map((l) => l.split(/[\s;,]+/).map(Number));
      if (pts.some((p) => p.length !== 2 || p.some((v) => !Number.isFinite(v)))) {
        dire("Points : une paire « x y » (entre 0 et 1) par ligne.", true);
        return;
      }
      poserPoints(r, estLigne(r) ? pts.slice(0, 2) : pts);
      this.trace = false;
      this.dessiner();
    });
    const direction = GEOMETRIE[r.kind].direction ? [
      el("label", { for: "regle-direction", text: "Sens autorisé (dx dy, y vers le bas)" }),
      el("input", { id: "regle-direction", value: (r.direction ?? [1, 0]).join(" "), onchange: (ev) => {
        const v = ev.target.value.split(/[\s;,]+/).map(Number);
        if (v.length === 2 && v.every(Number.isFinite)) { r.direction = v; this.dessiner(); } else dire("Sens : deux nombres « dx dy ».", true);
      } })] : [];
    this.majPoints();
    return el("div", {},
      el("label", { for: "regle-points", text: estLigne(r) ? "Extrémités a et b de la ligne (x y par ligne)" : "Sommets de la zone (x y par ligne)" }),
      this.textePoints,
      el("p", { id: "regle-points-aide", class: "droits", text: estLigne(r)
        ? "Le sens direct va vers le côté atteint en tournant a→b d'un quart de tour dans le sens horaire (flèche sur l'image)."
        : "Coordonnées entre 0 et 1, origine en haut à gauche, dans l'ordre du contour." }),
      ...direction);
  }

  majPoints() {
    const r = this.regle;
    if (r && this.textePoints) this.textePoints.value = points(r).map(([x, y]) => `${x} ${y}`).join("\n");
    const dir = document.getElementById("regle-direction");
    if (r?.direction && dir) dir.value = r.direction.map((v) => Math.round(v * 1000) / 1000).join(" ");
  }

  champHoraires(r) {
    const liste = el("div", { class: "analyse-horaires" });
    const dessinerPlages = () => liste.replaceChildren(...r.schedule.map((plage, k) => {
      const heure = (nom, libelle) => el("input", { type: "time", step: "60", "aria-label": `${libelle} de la plage ${k + 1}`,
        value: (plage[nom] ?? "").slice(0, 5), onchange: (ev) => { plage[nom] = `${ev.target.value}:00`; } });
      return el("div", { class: "analyse-plage", role: "group", "aria-label": `Plage ${k + 1}` },
        Object.entries(JOURS).map(([j, court]) => el("label", { class: "bascule", title: j },
          el("input", { type: "checkbox", checked: plage.days.includes(j), "aria-label": `${j} (plage ${k + 1})`,
            onchange: (ev) => { plage.days = Object.keys(JOURS).filter((d) => (d === j ? ev.target.checked : plage.days.includes(d))); } }),
          el("span", { text: court }))),
        heure("start", "Début"), el("span", { text: "→" }), heure("end", "Fin"),
        el("button", { type: "button", class: "secondaire", text: "Retirer", "aria-label": `Retirer la plage ${k + 1}`,
          onclick: () => { r.schedule.splice(k, 1); dessinerPlages(); } }));
    }));
    dessinerPlages();
    return el("fieldset", { class: "analyse-horaire" },
      el("legend", { text: "Horaires (heure de Paris ; aucune plage : toujours)" }), liste,
      el("button", { type: "button", class: "secondaire", text: "Ajouter une plage",
        onclick: () => { r.schedule.push({ days: Object.keys(JOURS), start: "22:00:00", end: "06:00:00" }); dessinerPlages(); } }));
  }

  consigner() {
    const r = this.regle;
    let texte = "";
    if (r && this.trace) {
      texte = estLigne(r)
        ? `Cliquez les deux extrémités de la ligne « ${r.id} » (${points(r).length}/2).`
        : `Cliquez les sommets de la zone « ${r.id} » (${points(r).length} posé(s)) ; double-clic, Entrée ou clic sur le premier point pour la fermer.`;
    } else if (r && GEOMETRIE[r.kind]) texte = `Règle « ${r.id} » : faites glisser ses points pour la modifier.`;
    this.consigne.textContent = texte;
  }

  supprimerRegle() {
    const r = this.regle;
    if (!r) return;
    this.config.rules.splice(this.selection, 1);
    this.choisir(Math.min(this.selection, this.config.rules.length - 1));
    dire(`Règle « ${r.id} » retirée (enregistrez pour l'appliquer).`);
  }

  // -- background picture --------------------------------------------------------------------

  chargerImage(instant) {
    const image = new Image();
    this.etatImage.textContent = "Chargement de l'image enregistrée…";
    image.onload = () => { this.image = image; this.etatImage.textContent = `Image enregistrée le ${dateHeure(instant)}.`; this.dessiner(); };
    image.onerror = () => {
      this.image = null;
      this.etatImage.textContent = `Pas d'image enregistrée le ${dateHeure(instant)} : le tracé reste possible sur fond neutre.`;
      this.dessiner();
    };
    image.src = `/api/v1/cameras/${encodeURIComponent(this.camera.id)}/thumbnail?at=${encodeURIComponent(instant.toISOString())}`;
  }

  // -- drawing -------------------------------------------------------------------------------

  dessiner() {
    const c = this.canvas;
    const largeur = this.cadre.clientWidth || 640;
    const ratio = this.image ? this.image.naturalHeight / this.image.naturalWidth : 9 / 16;
    const hauteur = Math.round(largeur * ratio);
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(largeur * dpr) || c.height !== Math.round(hauteur * dpr)) {
      c.width = Math.round(largeur * dpr);
      c.height = Math.round(hauteur * dpr);
      c.style.height = `${hauteur}px`;
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (this.image) g.drawImage(this.image, 0, 0, largeur, hauteur);
    else { g.fillStyle = "#3a3a3a"; g.fillRect(0, 0, largeur, hauteur); }
    const px = ([x, y]) => [x * largeur, y * hauteur];
    this.config.rules.forEach((r, i) => {
      const pts = points(r).map(px);
      if (!pts.length) return;
      const choisie = i === this.selection;
      const couleur = COULEURS[i % COULEURS.length];
      const ferme = !estLigne(r) && pts.length >= 3 && !(choisie && this.trace);
      g.setLineDash(r.enabled === false ? [6, 4] : []);
      g.beginPath();
      pts.forEach(([x, y], k) => (k ? g.lineTo(x, y) : g.moveTo(x, y)));
      if (ferme) g.closePath();
      g.fillStyle = `${couleur}33`;
      if (ferme) g.fill();
      g.lineWidth = (choisie ? 3 : 2) + 3; // a light halo keeps the outline visible on any picture
      g.strokeStyle = "rgba(255,255,255,.75)";
      g.stroke();
      g.lineWidth = choisie ? 3 : 2;
      g.strokeStyle = couleur;
      g.stroke();
      g.setLineDash([]);
      if (estLigne(r) && pts.length === 2) fleche(g, ...milieu(pts[0], pts[1]), ...quartHoraire(pts[0], pts[1], 36), couleur, "direct");
      if (GEOMETRIE[r.kind]?.direction && pts.length >= 3 && r.direction) {
        const [cx, cy] = centre(pts);
        const [dx, dy] = normer(r.direction[0] * largeur, r.direction[1] * hauteur, 40);
        fleche(g, cx, cy, cx + dx, cy + dy, couleur, "sens autorisé");
      }
      g.font = "600 13px system-ui, sans-serif";
      const [lx, ly] = pts[0];
      const texte = r.id;
      g.fillStyle = "rgba(0,0,0,.65)";
      g.fillRect(lx + 6, ly - 20, g.measureText(texte).width + 8, 18);
      g.fillStyle = "#fff";
      g.fillText(texte, lx + 10, ly - 6);
      if (!choisie) return;
      pts.forEach(([x, y], k) => poignee(g, x, y, couleur, k === this.point, k === 0 && this.trace));
      if (!this.trace && !estLigne(r)) this.milieux(pts).forEach(([x, y]) => poignee(g, x, y, couleur, false, false, true));
      if (!this.trace && GEOMETRIE[r.kind]?.direction && r.direction) poignee(g, ...this.teteDirection(largeur, hauteur), couleur, this.point === "direction");
    });
    this.boutonPoint.disabled = !(typeof this.point === "number" && this.regle && points(this.regle)[this.point]);
    this.consigner();
  }

  milieux(pts) { return pts.map((p, k) => milieu(p, pts[(k + 1) % pts.length])); }

  teteDirection(largeur, hauteur) {
    const [cx, cy] = centre(points(this.regle).map(([x, y]) => [x * largeur, y * hauteur]));
    const [dx, dy] = normer(this.regle.direction[0] * largeur, this.regle.direction[1] * hauteur, 40);
    return [cx + dx, cy + dy];
  }

  // -- mouse ---------------------------------------------------------------------------------

  position(ev) {
    const r = this.canvas.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top, l: r.width, h: r.height };
  }

  appui(ev) {
    const r = this.regle;
    if (!r || !GEOMETRIE[r.kind] || ev.button !== 0) return;
    const p = this.position(ev);
    const norme = [p.x / p.l, p.y / p.h];
    const pts = points(r);
    const proche = (x, y) => Math.hypot(x - p.x, y - p.y) <= PRISE_PX;
    if (this.trace) {
      if (!estLigne(r) && pts.length >= 3 && proche(pts[0][0] * p.l, pts[0][1] * p.h)) { this.terminerTrace(); return; }
      poserPoints(r, [...pts, norme]);
      this.point = points(r).length - 1;
      if (estLigne(r) && points(r).length === 2) this.terminerTrace();
      this.majPoints();
      this.dessiner();
      return;
    }
    let saisie = null;
    const k = pts.findIndex(([x, y]) => proche(x * p.l, y * p.h));
    if (k >= 0) saisie = k;
    else if (GEOMETRIE[r.kind].direction && r.direction && pts.length >= 3 && proche(...this.teteDirection(p.l, p.h))) saisie = "direction";
    else if (!estLigne(r)) {
      const m = this.milieux(pts.map(([x, y]) => [x * p.l, y * p.h])).findIndex(([x, y]) => proche(x, y));
      if (m >= 0) { pts.splice(m + 1, 0, norme); poserPoints(r, pts); saisie = m + 1; }
    }
    this.point = saisie;
    if (saisie !== null) { this.saisie = saisie; this.canvas.setPointerCapture(ev.pointerId); }
    this.dessiner();
  }

  deplacement(ev) {
    const r = this.regle;
    const p = this.position(ev);
    if (this.saisie === null) {
      if (r && !this.trace) {
        const prise = points(r).some(([x, y]) => Math.hypot(x * p.l - p.x, y * p.h - p.y) <= PRISE_PX);
        this.canvas.style.cursor = prise ? "move" : "default";
      } else this.canvas.style.cursor = this.trace ? "crosshair" : "default";
      return;
    }
    const norme = [Math.min(1, Math.max(0, p.x / p.l)), Math.min(1, Math.max(0, p.y / p.h))];
    if (this.saisie === "direction") {
      const [cx, cy] = centre(points(r));
      r.direction = [Math.round((norme[0] - cx) * 1000) / 1000, Math.round((norme[1] - cy) * 1000) / 1000];
    } else {
      const pts = points(r);
      pts[this.saisie] = norme;
      poserPoints(r, pts);
    }
    this.majPoints();
    this.dessiner();
  }

  relache(ev) {
    if (this.saisie === null) return;
    this.saisie = null;
    if (this.canvas.hasPointerCapture(ev.pointerId)) this.canvas.releasePointerCapture(ev.pointerId);
    this.majPoints();
  }

  /** Right click on a vertex of the selected rule: delete it. */
  menu(ev) {
    const r = this.regle;
    if (!r || !GEOMETRIE[r.kind]) return;
    const p = this.position(ev);
    const k = points(r).findIndex(([x, y]) => Math.hypot(x * p.l - p.x, y * p.h - p.y) <= PRISE_PX);
    if (k < 0) return;
    ev.preventDefault();
    this.point = k;
    this.supprimerPoint();
  }

  /** Delete the selected vertex (a zone keeps three, a line its two ends, except while drawing). */
  supprimerPoint() {
    const r = this.regle;
    const pts = r ? points(r) : [];
    if (typeof this.point !== "number" || !pts[this.point]) return;
    if (!this.trace && pts.length <= (estLigne(r) ? 2 : 3)) {
      dire(estLigne(r) ? "Une ligne garde ses deux extrémités : retracez-la pour la changer." : "Une zone garde au moins trois sommets.", true);
      return;
    }
    pts.splice(this.point, 1);
    poserPoints(r, pts);
    dire(`Point ${this.point + 1} effacé : la règle « ${r.id} » a ${pts.length} point(s).`);
    this.point = pts.length ? Math.min(this.point, pts.length - 1) : null;
    this.majPoints();
    this.dessiner();
  }

  terminerTrace() {
    const r = this.regle;
    if (!r) return;
    if (!complet(r)) { dire(estLigne(r) ? "Une ligne a deux extrémités." : "Une zone a au moins trois sommets.", true); return; }
    this.trace = false;
    this.point = null;
    this.majPoints();
    this.dessiner();
    dire(`Tracé de « ${r.id} » terminé : enregistrez la configuration pour l'appliquer.`);
  }

  // -- keyboard ------------------------------------------------------------------------------

  touche(ev) {
    const r = this.regle;
    if (!r || !GEOMETRIE[r.kind]) return;
    const pts = points(r);
    const suivant = (d) => { this.point = pts.length ? (((typeof this.point === "number" ? this.point : -d) + d) + pts.length) % pts.length : null; };
    const fleches = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (ev.key === "Enter" && this.trace) this.terminerTrace();
    else if (ev.key === "Escape" && this.trace) { this.trace = false; dire("Tracé interrompu."); }
    else if (ev.key === "PageDown" || ev.key === "PageUp") suivant(ev.key === "PageDown" ? 1 : -1);
    else if (fleches[ev.key] && typeof this.point === "number" && pts[this.point]) {
      const pas = ev.shiftKey ? PAS_CLAVIER / 10 : PAS_CLAVIER;
      pts[this.point] = [pts[this.point][0] + fleches[ev.key][0] * pas, pts[this.point][1] + fleches[ev.key][1] * pas];
      poserPoints(r, pts);
    } else if ((ev.key === "Delete" || ev.key === "Backspace") && typeof this.point === "number") {
      ev.preventDefault();
      this.supprimerPoint();
      return;
    } else if (ev.key === "Insert" && typeof this.point === "number" && !estLigne(r)) {
      pts.splice(this.point + 1, 0, milieu(pts[this.point], pts[(this.point + 1) % pts.length]));
      poserPoints(r, pts);
      this.point += 1;
    } else return;
    ev.preventDefault();
    if (typeof this.point === "number" && pts[this.point]) {
      const [x, y] = points(r)[this.point];
      dire(`Point ${this.point + 1} sur ${points(r).length} : x ${x.toFixed(3)}, y ${y.toFixed(3)}.`);
    }
    this.majPoints();
    this.dessiner();
  }

  // -- saving --------------------------------------------------------------------------------

  /** The configuration as the API takes it (analytics.rules.config.CameraAnalyticsConfig). */
  corps() {
    const d = new FormData(this.form);
    const reference = String(d.get("reference") ?? "").trim();
    const debut = String(d.get("valid_from") ?? "");
    const fin = String(d.get("valid_to") ?? "");
    const config = structuredClone(this.config);
    config.camera_id = this.camera.id;
    config.enabled = this.actif.checked;
    config.legal_basis = reference || debut || fin ? { reference, valid_from: debut || null, valid_to: fin || null } : null;
    return config;
  }

  async enregistrer() {
    this.erreur.textContent = "";
    dire("");
    const r = this.regle;
    if (r && this.trace && complet(r)) this.terminerTrace();
    try {
      const rep = await api("PUT", `/api/v1/cameras/${encodeURIComponent(this.camera.id)}/analytics`, { config: this.corps() });
      this.config = structuredClone(rep.config);
      for (const regle of this.config.rules) regle.schedule ??= [];
      this.existe = true;
      this.boutonDesactiver.disabled = false;
      this.form.querySelector(".analyse-maj").textContent = "";
      this.selection = Math.min(this.selection, this.config.rules.length - 1);
      this.trace = false;
      this.majListe();
      this.majFormRegle();
      this.dessiner();
      dire(`Configuration de l'analyse de « ${this.camera.name} » enregistrée (${this.config.rules.length} règle(s)).`);
    } catch (e) {
      this.erreur.textContent = e.message;
      dire("La configuration n'a pas été enregistrée.", true);
    }
  }

  async desactiver() {
    if (!confirm(`Désactiver l'analyse de « ${this.camera.name} » ? Sa configuration sera supprimée.`)) return;
    this.erreur.textContent = "";
    try {
      await api("DELETE", `/api/v1/cameras/${encodeURIComponent(this.camera.id)}/analytics`);
    } catch (e) { this.erreur.textContent = e.message; return; }
    this.existe = false;
    this.boutonDesactiver.disabled = true;
    this.config.rules = [];
    this.config.legal_basis = null;
    for (const n of ["reference", "valid_from", "valid_to"]) this.form.elements[n].value = "";
    this.choisir(-1);
    dire(`Analyse de « ${this.camera.name} » désactivée.`);
  }

  fermer() { this.redimension.disconnect(); }
}

// -- canvas helpers ----------------------------------------------------------------------------

const milieu = (p, q) => [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];
function normer(dx, dy, longueur) {
  const n = Math.hypot(dx, dy) || 1;
  return [dx / n * longueur, dy / n * longueur];
}
/** From the middle of [p, q], ``longueur`` pixels towards a->b turned a quarter clockwise
 *  on screen (y down): the "direct" side of a counting line. */
function quartHoraire(p, q, longueur) {
  const [mx, my] = milieu(p, q);
  const [dx, dy] = normer(-(q[1] - p[1]), q[0] - p[0], longueur);
  return [mx + dx, my + dy];
}
function fleche(g, x0, y0, x1, y1, couleur, texte) {
  const angle = Math.atan2(y1 - y0, x1 - x0);
  const pointe = () => {
    g.beginPath();
    g.moveTo(x1, y1);
    g.lineTo(x1 - 12 * Math.cos(angle - 0.45), y1 - 12 * Math.sin(angle - 0.45));
    g.lineTo(x1 - 12 * Math.cos(angle + 0.45), y1 - 12 * Math.sin(angle + 0.45));
    g.closePath();
  };
  g.strokeStyle = "rgba(255,255,255,.8)"; // halo, as the outlines
  g.lineWidth = 5;
  g.beginPath(); g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke();
  pointe(); g.lineWidth = 3; g.stroke();
  g.strokeStyle = couleur;
  g.fillStyle = couleur;
  g.lineWidth = 2;
  g.beginPath(); g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke();
  pointe(); g.fill();
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = "#fff";
  g.strokeStyle = "rgba(0,0,0,.8)";
  g.lineWidth = 3;
  g.strokeText(texte, x1 + 4, y1 + 4);
  g.fillText(texte, x1 + 4, y1 + 4);
}
function poignee(g, x, y, couleur, choisie, premier, milieuP = false) {
  g.beginPath();
  g.arc(x, y, milieuP ? 4 : (choisie ? 7 : 5.5), 0, 2 * Math.PI);
  g.fillStyle = milieuP ? "rgba(255,255,255,.6)" : (choisie ? "#ffd400" : "#fff");
  g.fill();
  g.lineWidth = premier ? 3 : 2;
  g.strokeStyle = couleur;
  g.stroke();
}

// -- "Évènements" --------------------------------------------------------------------------------

function ecranEvenements(cameras) {
  if (!cameras.length) return { noeud: el("p", { text: "Aucune caméra de votre périmètre n'est visible en direct ou en relecture." }) };
  const p = parametresVue();
  const [lc, camera] = choixCamera(cameras, p.get("camera") ?? "", { vide: "Toutes", id: "evenements-camera" });
  const form = el("form", { class: "carte large filtres", role: "search", "aria-label": "Filtres des évènements" },
    el("div", {}, lc, camera),
    el("div", {}, ...choix("Type", "kind", { "": "Tous", ...TYPES }, p.get("kind") ?? "")),
    el("div", {}, ...champ("Depuis", { name: "since", type: "datetime-local", step: "1", value: p.get("since") ? versChamp(p.get("since")) : "" })),
    el("div", {}, ...champ("Jusqu'à", { name: "until", type: "datetime-local", step: "1", value: p.get("until") ? versChamp(p.get("until")) : "" })),
    el("div", {}, el("button", { type: "submit", text: "Filtrer" })));
  const liste = el("ol", { class: "evenements", "aria-label": "Évènements, les plus récents d'abord" });
  const etat = el("p", { class: "droits", "aria-live": "polite" });
  let filtres = new URLSearchParams();
  let dernier = 0;
  let minuterie = null;
  let generation = 0;
  let parti = false;

  const lireFiltres = () => {
    const d = new FormData(form);
    const q = new URLSearchParams();
    for (const k of ["camera", "kind"]) if (d.get(k)) q.set(k, d.get(k));
    if (d.get("since")) q.set("since", depuisChamp(d.get("since"), "Depuis"));
    if (d.get("until")) q.set("until", depuisChamp(d.get("until"), "Jusqu'à"));
    return q;
  };

  async function sonder(gen) {
    clearTimeout(minuterie);
    try {
      const q = new URLSearchParams(filtres);
      if (dernier) { q.set("after_id", String(dernier)); q.set("limit", "500"); }
      const { events } = await api("GET", `/api/v1/events?${q}`);
      if (gen !== generation || parti) return;
      const nouveaux = events.filter((e) => e.id > dernier);
      if (nouveaux.length) {
        if (dernier) dire(`${nouveaux.length} nouvel(s) évènement(s).`);
        dernier = Math.max(dernier, ...nouveaux.map((e) => e.id));
        liste.prepend(...nouveaux.sort((a, b) => b.id - a.id).map(carteEvenement));
        while (liste.children.length > 500) liste.lastElementChild.remove();
      }
      etat.textContent = liste.children.length
        ? `${liste.children.length} évènement(s) affiché(s) ; mise à jour toutes les 2 secondes.`
        : "Aucun évènement pour ces critères ; mise à jour toutes les 2 secondes.";
    } catch (e) {
      if (gen !== generation || parti) return;
      etat.textContent = e.message;
    }
    if (!filtres.get("until")) minuterie = setTimeout(() => sonder(gen), SONDAGE_MS);
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    try { filtres = lireFiltres(); } catch (e) { dire(e.message, true); return; }
    generation += 1;
    dernier = 0;
    liste.replaceChildren();
    sonder(generation);
  });
  return {
    noeud: el("div", {}, form, etat, liste),
    quitter: () => { parti = true; clearTimeout(minuterie); },
    apres: () => { try { filtres = lireFiltres(); } catch { filtres = new URLSearchParams(); } sonder(generation); },
  };
}

/** An event with its snapshot and the boxes of the objects concerned drawn over it. */
function carteEvenement(e) {
  const pc = (v) => `${Math.round(v * 10_000) / 100}%`;
  const boites = (e.boxes ?? []).map(([x0, y0, x1, y1]) => avecStyle(el("span", { class: "boite" },
    el("span", { class: "boite-libelle", text: `${e.cls}${e.track_id !== null && e.track_id !== undefined ? ` n° ${e.track_id}` : ""}` })),
  { left: pc(x0), top: pc(y0), width: pc(x1 - x0), height: pc(y1 - y0) }));
  const image = e.snapshot
    ? el("div", { class: "evenement-image" },
      el("img", { src: e.snapshot, alt: `Image de l'évènement n° ${e.id} : ${e.label}`, loading: "lazy" }), boites)
    : el("div", { class: "evenement-image sans-image" }, el("span", { text: "Pas d'image" }));
  const ligne = (terme, valeur) => [el("dt", { text: terme }), el("dd", { text: valeur })];
  return el("li", { class: "evenement", "data-evenement": String(e.id), "data-type": e.kind },
    image,
    el("div", { class: "evenement-texte" },
      el("p", { class: "evenement-libelle", text: e.label }),
      el("dl", {},
        ...ligne("Heure", dateHeure(e.at)),
        ...ligne("Caméra", e.camera_name ?? e.camera_id),
        ...ligne("Règle", `${e.rule_id} (${TYPES[e.kind] ?? e.kind})`),
        ...ligne("Objet", `${e.cls}${e.track_id !== null && e.track_id !== undefined ? `, piste n° ${e.track_id}` : ""} — confiance ${Math.round(e.confidence * 100)} %`),
        ...ligne("Modèle", e.model))));
}

// -- "Comptages" ---------------------------------------------------------------------------------

function ecranComptages(cameras) {
  if (!cameras.length) return { noeud: el("p", { text: "Aucune caméra dans votre périmètre." }) };
  const p = parametresVue();
  const maintenant = Date.now();
  const [lc, camera] = choixCamera(cameras, p.get("camera") ?? cameras[0].id, { id: "comptages-camera" });
  const regles = el("datalist", { id: "comptages-regles" });
  const form = el("form", { class: "carte large filtres", "aria-label": "Comptages à afficher" },
    el("div", {}, lc, camera),
    el("div", {}, ...champ("Ligne de comptage (identifiant de règle)", { name: "rule", list: "comptages-regles", value: p.get("rule") ?? "", placeholder: "Toutes" }), regles),
    el("div", {}, ...choix("Pas", "step", PAS, p.get("step") ?? "hour")),
    el("div", {}, ...champ("Depuis", { name: "since", type: "datetime-local", step: "1", required: true, value: versChamp(maintenant - JOUR_MS) })),
    el("div", {}, ...champ("Jusqu'à", { name: "until", type: "datetime-local", step: "1", required: true, value: versChamp(maintenant) })),
    el("div", {}, el("button", { type: "submit", text: "Afficher" })));
  const graphique = new Histogramme();
  const resultat = el("div", { class: "comptages-resultat" });
  let donnees = null;
  const csv = el("button", { type: "button", class: "secondaire", text: "Télécharger (CSV)", disabled: true,
    onclick: () => telechargerCsv(donnees) });

  async function charger() {
    const d = new FormData(form);
    const q = new URLSearchParams({ step: d.get("step"), since: depuisChamp(d.get("since"), "Depuis"), until: depuisChamp(d.get("until"), "Jusqu'à") });
    if (String(d.get("rule")).trim()) q.set("rule", String(d.get("rule")).trim());
    const id = d.get("camera");
    const rep = await api("GET", `/api/v1/cameras/${encodeURIComponent(id)}/counts?${q}`);
    donnees = { ...rep, camera: id, nom: cameras.find((c) => c.id === id)?.name ?? id, since: q.get("since"), until: q.get("until") };
    const vues = new Set([...regles.options].map((o) => o.value));
    for (const b of rep.buckets) if (!vues.has(b.rule_id)) { vues.add(b.rule_id); regles.append(el("option", { value: b.rule_id })); }
    csv.disabled = !rep.buckets.length;
    graphique.montrer(donnees);
    const total = rep.buckets.reduce((s, b) => s + b.count, 0);
    resultat.replaceChildren(el("p", { class: "comptages-total", text: rep.buckets.length
      ? `${total} passage(s) sur la période, par ${PAS[rep.step]?.toLowerCase() ?? rep.step}.`
      : "Aucun passage compté sur cette période." }));
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    dire("");
    try { await charger(); } catch (e) { dire(e.message, true); }
  });
  const redimension = new ResizeObserver(() => graphique.dessiner());
  redimension.observe(graphique.cadre);
  return {
    noeud: el("div", {}, form, resultat, graphique.noeud, el("p", {}, csv)),
    quitter: () => redimension.disconnect(),
    apres: () => charger().catch((e) => dire(e.message, true)),
  };
}

/** Stacked bars of the counts per time slot, one colour per class and direction. */
class Histogramme {
  constructor() {
    this.canvas = el("canvas", { class: "comptages-canvas", role: "img", "aria-label": "Histogramme des comptages" });
    this.cadre = el("div", { class: "comptages-cadre" }, this.canvas);
    this.legende = el("ul", { class: "comptages-legende", "aria-label": "Légende" });
    this.table = el("table", { class: "comptages-table" });
    this.noeud = el("section", { class: "comptages", "aria-label": "Histogramme" }, this.cadre, this.legende,
      el("details", {}, el("summary", { text: "Tableau des valeurs" }), this.table));
    this.creneaux = [];
    this.series = [];
  }

  montrer(d) {
    const serie = (b) => `${b.cls} — ${SENS[b.direction] ?? b.direction}`;
    this.series = [...new Set(d.buckets.map(serie))].sort();
    const parDebut = new Map();
    for (const b of d.buckets) {
      const t = Date.parse(b.start);
      if (!parDebut.has(t)) parDebut.set(t, { debut: t, fin: Date.parse(b.end), valeurs: new Map() });
      const c = parDebut.get(t);
      c.valeurs.set(serie(b), (c.valeurs.get(serie(b)) ?? 0) + b.count);
    }
    const debuts = [...parDebut.keys()].sort((a, b) => a - b);
    const pas = PAS_MS[d.step];
    if (pas && debuts.length && (debuts.at(-1) - debuts[0]) / pas < 2000) { // empty slots stay visible
      for (let t = debuts[0]; t < debuts.at(-1); t += pas) if (!parDebut.has(t)) parDebut.set(t, { debut: t, fin: t + pas, valeurs: new Map() });
    }
    this.creneaux = [...parDebut.values()].sort((a, b) => a.debut - b.debut);
    this.pas = d.step;
    this.canvas.setAttribute("aria-label", `Histogramme des comptages de ${d.nom}, ${this.creneaux.length} créneau(x)`);
    this.legende.replaceChildren(...this.series.map((s, k) => el("li", {},
      pastille(k), el("span", { text: s }))));
    this.table.replaceChildren(
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Créneau" }), this.series.map((s) => el("th", { scope: "col", text: s })))),
      el("tbody", {}, this.creneaux.map((c) => el("tr", {}, el("th", { scope: "row", text: this.libelle(c.debut, true) }),
        this.series.map((s) => el("td", { text: String(c.valeurs.get(s) ?? 0) }))))));
    this.dessiner();
  }

  libelle(t, long = false) {
    const d = new Date(t);
    if (this.pas === "day") return d.toLocaleDateString("fr-FR", { weekday: long ? "short" : undefined, day: "2-digit", month: "2-digit" });
    const heure = d.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" });
    return long ? `${d.toLocaleDateString("fr-FR", { day: "2-digit", month: "2-digit" })} ${heure}` : heure;
  }

  dessiner() {
    const c = this.canvas;
    const largeur = this.cadre.clientWidth || 800;
    const hauteur = 320;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(largeur * dpr);
    c.height = Math.round(hauteur * dpr);
    c.style.height = `${hauteur}px`;
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, largeur, hauteur);
    const marge = { g: 48, d: 12, h: 12, b: 40 };
    const l = largeur - marge.g - marge.d;
    const h = hauteur - marge.h - marge.b;
    const totaux = this.creneaux.map((cr) => [...cr.valeurs.values()].reduce((s, v) => s + v, 0));
    const max = echelleHaute(Math.max(1, ...totaux));
    g.font = "12px system-ui, sans-serif";
    g.strokeStyle = "#ccc";
    g.fillStyle = "#333";
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let k = 0; k <= 4; k++) {
      const v = (max / 4) * k;
      const y = marge.h + h - (v / max) * h;
      g.beginPath(); g.moveTo(marge.g, y + 0.5); g.lineTo(marge.g + l, y + 0.5); g.stroke();
      g.fillText(String(Math.round(v * 10) / 10), marge.g - 6, y);
    }
    if (!this.creneaux.length) {
      g.textAlign = "center";
      g.fillText("Aucune donnée", marge.g + l / 2, marge.h + h / 2);
      return;
    }
    const n = this.creneaux.length;
    const pas = l / n;
    const barre = Math.max(1, pas * 0.8);
    const tous = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(l / 70))));
    g.textAlign = "center";
    g.textBaseline = "top";
    this.creneaux.forEach((cr, i) => {
      const x = marge.g + i * pas + (pas - barre) / 2;
      let y = marge.h + h;
      this.series.forEach((s, k) => {
        const v = cr.valeurs.get(s) ?? 0;
        if (!v) return;
        const hb = (v / max) * h;
        g.fillStyle = COULEURS[k % COULEURS.length];
        g.fillRect(x, y - hb, barre, hb);
        y -= hb;
      });
      if (i % tous === 0) { g.fillStyle = "#333"; g.fillText(this.libelle(cr.debut), x + barre / 2, marge.h + h + 6); }
    });
    g.strokeStyle = "#333";
    g.beginPath(); g.moveTo(marge.g + 0.5, marge.h); g.lineTo(marge.g + 0.5, marge.h + h + 0.5); g.lineTo(marge.g + l, marge.h + h + 0.5); g.stroke();
  }
}

/** A round upper bound for an axis (1, 2, 5 times a power of ten). */
function echelleHaute(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
}

const champCsv = (v) => (/[";\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));

/** The buckets as CSV (";" separated, as French spreadsheets expect), downloaded. */
export function csvComptages(d) {
  const lignes = [["debut", "fin", "camera", "regle", "classe", "sens", "nombre"],
    ...d.buckets.map((b) => [b.start, b.end, d.camera, b.rule_id, b.cls, b.direction, b.count])];
  return `${lignes.map((l) => l.map(champCsv).join(";")).join("\r\n")}\r\n`;
}

function telechargerCsv(d) {
  if (!d) return;
  const url = URL.createObjectURL(new Blob(["\ufeff", csvComptages(d)], { type: "text/csv;charset=utf-8" }));
  const lien = el("a", { href: url, download: `comptages-${d.camera}-${d.step}-${d.since.slice(0, 10)}.csv` });
  document.body.append(lien);
  lien.click();
  lien.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// -- live detections over a wall tile ----------------------------------------------------------

/** The tracked objects of a camera drawn over its tile's video, polled once a second. */
export class Detections {
  constructor(tuile, video) {
    this.video = video;
    this.canvas = el("canvas", { class: "detections-calque", "aria-hidden": "true" });
    this.texte = el("span", { class: "detections-etat" });
    tuile.append(this.canvas, this.texte);
    this.camera = null;
    this.minuterie = null;
    this.generation = 0;
  }

  get actif() { return this.camera !== null; }

  demarrer(camera) {
    this.arreter();
    this.camera = camera;
    const gen = this.generation;
    const tour = async () => {
      let r = null;
      let message = "";
      try {
        r = await api("GET", `/api/v1/cameras/${encodeURIComponent(camera)}/analytics/live`);
      } catch (e) {
        message = e instanceof ErreurApi ? e.message : "Détections indisponibles.";
      }
      if (gen !== this.generation) return;
      const perime = r && Date.now() - Date.parse(r.at) > PERIME_MS;
      this.dessiner(r && !perime ? r.detections : []);
      this.texte.textContent = message || (perime ? `Analyse interrompue depuis ${dateHeure(r.at)}`
        : `${r.detections.length} objet(s) suivi(s)`);
      this.minuterie = setTimeout(tour, DIRECT_MS);
    };
    tour();
  }

  arreter() {
    this.generation += 1;
    clearTimeout(this.minuterie);
    this.camera = null;
    this.texte.textContent = "";
    this.canvas.getContext("2d").clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  dessiner(detections) {
    const c = this.canvas;
    const l = c.clientWidth;
    const h = c.clientHeight;
    c.width = l;
    c.height = h;
    const g = c.getContext("2d");
    g.clearRect(0, 0, l, h);
    // the picture inside the tile (object-fit: contain)
    const vw = this.video.videoWidth || 16;
    const vh = this.video.videoHeight || 9;
    const e = Math.min(l / vw, h / vh);
    const [iw, ih] = [vw * e, vh * e];
    const [ox, oy] = [(l - iw) / 2, (h - ih) / 2];
    g.font = "600 12px system-ui, sans-serif";
    g.lineWidth = 2;
    for (const d of detections) {
      const [x0, y0, x1, y1] = d.box;
      const couleur = COULEURS[Math.abs(Number(d.track_id) || 0) % COULEURS.length];
      const x = ox + x0 * iw;
      const y = oy + y0 * ih;
      g.strokeStyle = couleur;
      g.strokeRect(x, y, (x1 - x0) * iw, (y1 - y0) * ih);
      const texte = `${d.cls} n° ${d.track_id}`;
      g.fillStyle = couleur;
      g.fillRect(x, Math.max(0, y - 16), g.measureText(texte).width + 8, 16);
      g.fillStyle = "#fff";
      g.fillText(texte, x + 4, Math.max(12, y - 4));
    }
  }
}
