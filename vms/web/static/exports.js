// Exports ("Extraits", EVD-05) and legal holds ("Conservations judiciaires", LAW-01),
// and what the evidence screens (playback.js, search.js, this one) share: French
// labels, the dates of datetime-local fields and views reached with parameters.
//
// The server decides: an export request is checked, audited and queued (or left for a
// second user's approval) by the API, whose French refusals are shown as they come.

import { api, afficher, champ, choix, dire, el, enQuittant, moi, parametresVue, soumettre } from "./lib.js";

export const CAUSES = {
  connect_refused: "connexion refusée", timeout: "délai dépassé", stall: "flux figé",
  eof: "fin de flux", decode_error: "flux illisible", timestamp_jump: "saut d'horodatage",
  crash: "arrêt brutal", shutdown: "arrêt du service", storage_error: "erreur de stockage",
  failover: "reprise par un autre enregistreur", handover: "transfert vers un autre enregistreur",
};
export const PROCEDURES = {
  flagrant_delit: "Flagrant délit", enquete_preliminaire: "Enquête préliminaire",
  information_judiciaire: "Information judiciaire", requisition: "Réquisition",
};
const SERVICES = {
  police_nationale: "Police nationale", gendarmerie: "Gendarmerie nationale",
  police_municipale: "Police municipale", justice: "Autorité judiciaire",
  pompiers: "Sapeurs-pompiers", autre: "Autre",
};
const EN_COURS = new Set(["en_file", "en_cours"]);
const SONDAGE_MS = 2000;
const HEURE_MS = 3_600_000;

// -- dates ----------------------------------------------------------------------------------

export const dateHeure = (d) => new Date(d).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "medium" });
export const plage = (a, b) => `${dateHeure(a)} → ${dateHeure(b)}`;
/** The value of a datetime-local field (local time, to the second) for a date. */
export function versChamp(d) {
  const t = new Date(d);
  return new Date(t.getTime() - t.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}
/** The date an address parameter gives, or ``defaut`` when it gives none (or nonsense). */
export function dateOu(valeur, defaut) {
  const t = valeur ? new Date(valeur) : null;
  return t && !Number.isNaN(t.getTime()) ? t : defaut;
}
/** ISO 8601 (UTC) of a datetime-local field's value. */
export function depuisChamp(valeur, libelle = "Date") {
  const t = new Date(valeur);
  if (!valeur || Number.isNaN(t.getTime())) throw new Error(`${libelle} : date et heure attendues.`);
  return t.toISOString();
}

// -- shared form parts -------------------------------------------------------------------------

let dialogues = 0; // unique ids for the dialogs' fields

/** A modal form asking for a text (a motive, a reason): ``action(texte, coche)`` runs on
 *  submit; its error shows in the dialog, which closes once it has succeeded. */
export function demanderTexte({ titre, aide = null, libelle, valeur = "", coche = null, bouton, action }) {
  const n = ++dialogues;
  const erreur = el("p", { class: "annonce erreur", role: "alert" });
  const texte = el("textarea", { id: `texte-${n}`, rows: "3", minlength: "3", maxlength: "500", required: true });
  texte.value = valeur;
  const caseCochee = coche ? el("input", { type: "checkbox" }) : null;
  const dialogue = el("dialog", { class: "dialogue-motif", "aria-labelledby": `titre-${n}` });
  dialogue.addEventListener("close", () => dialogue.remove());
  const form = el("form", {},
    el("h2", { id: `titre-${n}`, text: titre }),
    aide ? el("p", { class: "droits", text: aide }) : null,
    el("label", { for: `texte-${n}`, text: libelle }), texte,
    caseCochee ? el("label", { class: "bascule" }, caseCochee, el("span", { text: coche })) : null,
    erreur,
    el("div", { class: "boutons" }, el("button", { type: "submit", text: bouton }),
      el("button", { type: "button", class: "secondaire", text: "Annuler", onclick: () => dialogue.close() })));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    erreur.textContent = "";
    try {
      await action(texte.value.trim(), Boolean(caseCochee?.checked));
      dialogue.close();
    } catch (e) { erreur.textContent = e.message; }
  });
  dialogue.append(form);
  document.body.append(dialogue);
  dialogue.showModal();
}

/** Camera check boxes grouped by commune (``surChoix`` runs on each change). */
export function choixCameras(cameras, voulues, legende, surChoix = null) {
  const communes = new Map();
  for (const c of cameras) communes.set(c.tenant_name, [...(communes.get(c.tenant_name) ?? []), c]);
  return el("fieldset", { class: "choix-cameras" }, el("legend", { text: legende }),
    cameras.length ? [...communes].map(([commune, cams]) => el("div", { class: "choix-commune" },
      el("span", { class: "commune", text: commune }),
      cams.map((c) => el("label", { class: "bascule" },
        el("input", { type: "checkbox", name: "camera", value: c.id, checked: voulues.has(c.id), onchange: surChoix }),
        el("span", { text: c.name })))))
      : el("p", { text: "Aucune caméra de votre périmètre." }));
}

function plageDe(d) {
  const from = depuisChamp(d.get("from"), "Début");
  const to = depuisChamp(d.get("to"), "Fin");
  const cameras = d.getAll("camera");
  if (!cameras.length) throw new Error("Choisissez au moins une caméra.");
  return { cameras, from, to };
}

export const champDate = (libelle, name, valeur, requis = true) =>
  champ(libelle, { name, type: "datetime-local", step: "1", required: requis, value: valeur ? versChamp(valeur) : "" });

// -- exports -------------------------------------------------------------------------------------

export async function vueExtraits() {
  const p = parametresVue();
  const { cameras } = await api("GET", "/api/v1/cameras");
  const exportables = cameras.filter((c) => c.rights.includes("export"));
  const noms = new Map(cameras.map((c) => [c.id, c.name]));
  const voulues = new Set(p.getAll("cameras").flatMap((v) => v.split(",")));
  const fin = dateOu(p.get("to"), new Date());
  const debut = dateOu(p.get("from"), new Date(fin.getTime() - HEURE_MS));
  const form = el("form", { class: "carte large formulaire-preuve", "aria-label": "Nouvelle demande d'extrait" },
    el("h2", { text: "Nouvelle demande" }),
    choixCameras(exportables, voulues, "Caméras (d'une seule commune)"),
    el("div", { class: "deux" }, el("div", {}, ...champDate("Début", "from", debut)), el("div", {}, ...champDate("Fin", "to", fin))),
    ...champ("Motif", { tag: "textarea", name: "motive", rows: "2", minlength: "3", maxlength: "500", required: true }),
    ...choix("Service destinataire", "service", { "": "— Choisir —", ...SERVICES }, "", { required: true }),
    ...champ("Officier destinataire (nom, grade, matricule)", { name: "officer", maxlength: "200", required: true }),
    ...champ("N° de procédure ou de réquisition", { name: "reference", maxlength: "200", required: true }),
    el("p", {}, el("label", { class: "bascule" }, el("input", { type: "checkbox", name: "overlay" }),
      el("span", { text: "Joindre une copie avec incrustation (date, heure, caméra)" }))),
    el("button", { type: "submit", text: "Demander l'extrait" }));
  const liste = el("div", { class: "extraits-liste" });
  let minuterie = null;
  let parti = false;

  async function charger() {
    clearTimeout(minuterie);
    let exports;
    try {
      ({ exports } = await api("GET", "/api/v1/exports"));
    } catch (e) {
      liste.replaceChildren(el("p", { class: "annonce erreur", text: e.message }));
      return;
    }
    if (parti) return;
    liste.replaceChildren(exports.length ? tableExtraits(exports, noms, decider) : el("p", { text: "Aucun extrait." }));
    if (exports.some((x) => EN_COURS.has(x.status))) minuterie = setTimeout(charger, SONDAGE_MS);
  }

  const decision = async (x, approve, refusal = "") => {
    const r = await api("POST", `/api/v1/exports/${x.id}/decision`, { approve, refusal });
    dire(`Demande n° ${x.id} : ${r.status_label}.`);
    await charger();
  };
  async function decider(x, approuver) {
    if (!approuver) {
      demanderTexte({
        titre: `Refuser la demande d'extrait n° ${x.id}`, libelle: "Motif du refus", bouton: "Refuser la demande",
        aide: `${x.reference}, demandée par ${x.requested_by} : le motif est visible du demandeur et journalisé.`,
        action: (motif) => decision(x, false, motif),
      });
    } else if (confirm(`Valider la demande d'extrait n° ${x.id} (${x.reference}) de ${x.requested_by} ?`)) {
      await decision(x, true).catch((e) => dire(e.message, true));
    }
  }

  soumettre(form, async (d) => {
    const corps = {
      ...plageDe(d), motive: d.get("motive").trim(), service: d.get("service"),
      officer: d.get("officer").trim(), reference: d.get("reference").trim(), overlay: d.get("overlay") === "on",
    };
    const r = await api("POST", "/api/v1/exports", corps);
    dire(`Demande d'extrait n° ${r.id} enregistrée : ${r.status_label}.`);
    form.reset();
    await charger();
  });
  afficher("Extraits", form,
    el("section", { "aria-labelledby": "titre-extraits" },
      el("h2", { id: "titre-extraits", text: "Demandes et extraits" }),
      el("p", {},
        el("button", { type: "button", class: "secondaire", text: "Actualiser", onclick: () => charger() }), " ",
        el("a", { href: "/api/v1/exports-key", download: "cle-publique-extraits.pem", text: "Clé publique de vérification des extraits (PEM)" })),
      liste));
  enQuittant(() => { parti = true; clearTimeout(minuterie); });
  await charger();
}

function tableExtraits(exports, noms, decider) {
  const etat = (x) => {
    const cellule = [el("span", { class: `statut statut-${x.status}`, text: x.status_label })];
    if (EN_COURS.has(x.status)) {
      const pct = Math.round((x.progress ?? 0) * 100);
      cellule.push(el("progress", { max: "100", value: String(pct), "aria-label": `Avancement de l'extrait n° ${x.id}` }), el("span", { class: "droits", text: ` ${pct} %` }));
    }
    if (x.status === "refuse" && x.refusal) cellule.push(el("span", { class: "droits", text: ` — ${x.refusal}` }));
    if (x.status === "echec" && x.error) cellule.push(el("span", { class: "droits", text: ` — ${x.error}` }));
    return cellule;
  };
  return el("table", { "aria-label": "Extraits" },
    el("caption", { class: "droits", text: `${exports.length} demande(s), les plus récentes d'abord` }),
    el("thead", {}, el("tr", {}, ["N°", "Caméras", "Plage", "Destinataire", "Référence", "Demandé par", "État", "Actions"].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, exports.map((x) => el("tr", { "data-extrait": String(x.id) },
      el("td", { text: String(x.id) }),
      el("td", { text: x.cameras.map((c) => noms.get(c) ?? c).join(", ") }),
      el("td", { text: plage(x.start, x.end) }),
      el("td", { text: `${x.service_label} — ${x.officer}` }),
      el("td", { text: x.reference }),
      el("td", { text: x.requested_by + (x.approved_by ? ` (validé par ${x.approved_by})` : "") }),
      el("td", { class: "etat-extrait" }, etat(x)),
      el("td", { class: "actions" },
        x.can_approve ? el("button", { type: "button", text: "Valider", "aria-label": `Valider la demande n° ${x.id}`, onclick: () => decider(x, true) }) : null,
        x.can_approve ? el("button", { type: "button", class: "danger", text: "Refuser", "aria-label": `Refuser la demande n° ${x.id}`, onclick: () => decider(x, false) }) : null,
        x.download_url ? el("a", { class: "bouton", href: x.download_url, download: `extrait-${x.id}.zip`, text: "Télécharger", "aria-label": `Télécharger l'extrait n° ${x.id}` }) : null)))));
}

// -- legal holds ---------------------------------------------------------------------------------

export async function vueConservations(toutes = false) {
  const [{ cameras }, { holds }] = await Promise.all([
    api("GET", "/api/v1/cameras"), api("GET", `/api/v1/holds${toutes ? "?all=1" : ""}`)]);
  const noms = new Map(cameras.map((c) => [c.id, c.name]));
  const form = el("form", { class: "carte large formulaire-preuve", "aria-label": "Placer une conservation" },
    el("h2", { text: "Placer une conservation" }),
    el("p", { class: "droits", text: "Les images couvertes sont conservées sur toutes les copies au-delà de leur durée de conservation, jusqu'à la levée ou l'échéance." }),
    ...champ("N° de PV ou de réquisition", { name: "reference", maxlength: "200", required: true }),
    ...choix("Procédure", "procedure", PROCEDURES, "requisition"),
    ...champ("Officier requérant (nom, grade, service)", { name: "requested_by", maxlength: "200", required: true }),
    // the camera list holds those one sees under an image right: others are named by id
    choixCameras(cameras.filter((c) => (moi.rights.manage_holds ?? []).includes(c.tenant)), new Set(), "Caméras (d'une seule commune)"),
    ...champ("Autres caméras (identifiants séparés par des virgules)", { name: "autres", autocomplete: "off" }),
    el("div", { class: "deux" },
      el("div", {}, ...champDate("Début de la plage protégée", "from", new Date(Date.now() - HEURE_MS))),
      el("div", {}, ...champDate("Fin de la plage protégée", "to", new Date()))),
    ...champDate("Échéance (vide : jusqu'à la levée)", "expires_at", null, false),
    el("button", { type: "submit", text: "Placer la conservation" }));
  soumettre(form, async (d) => {
    for (const id of d.get("autres").split(",").map((v) => v.trim()).filter(Boolean)) d.append("camera", id);
    const corps = { ...plageDe(d), reference: d.get("reference").trim(), procedure: d.get("procedure"), requested_by: d.get("requested_by").trim() };
    if (d.get("expires_at")) corps.expires_at = depuisChamp(d.get("expires_at"), "Échéance");
    const r = await api("POST", "/api/v1/holds", corps);
    await vueConservations(toutes);
    dire(`Conservation n° ${r.id} placée (${corps.reference}).`);
  });
  const lever = async (h) => {
    if (!confirm(`Lever la conservation ${h.reference} ? Les images redeviendront soumises à leur durée de conservation et pourront être effacées.`)) return;
    try {
      await api("POST", `/api/v1/holds/${h.id}/release`);
      await vueConservations(toutes);
      dire(`Conservation ${h.reference} levée.`);
    } catch (e) { dire(e.message, true); }
  };
  const bascule = el("label", { class: "bascule" },
    el("input", { type: "checkbox", checked: toutes, onchange: (ev) => vueConservations(ev.target.checked).catch((e) => dire(e.message, true)) }),
    el("span", { text: "Afficher aussi les conservations levées" }));
  const table = holds.length ? el("table", { "aria-label": "Conservations judiciaires" },
    el("thead", {}, el("tr", {}, ["Référence", "Procédure", "Requérant", "Caméras", "Plage protégée", "Échéance", "Placée par", "Action"].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, holds.map((h) => el("tr", { "data-conservation": String(h.id) },
      el("td", { text: h.reference }),
      el("td", { text: h.procedure_label ?? PROCEDURES[h.procedure] ?? h.procedure }),
      el("td", { text: h.requested_by }),
      el("td", { text: h.cameras.map((c) => noms.get(c) ?? c).join(", ") }),
      el("td", { text: plage(h.start, h.end) }),
      el("td", {}, h.expires_at ? dateHeure(h.expires_at) : "Jusqu'à la levée",
        h.expiring ? el("span", { class: "expire-bientot", text: "expire bientôt" }) : null),
      el("td", { text: `${h.created_by}, le ${dateHeure(h.created_at)}` }),
      el("td", { class: "actions" }, h.released_at
        ? el("span", { class: "droits", text: `Levée le ${dateHeure(h.released_at)} par ${h.released_by}` })
        : el("button", { type: "button", class: "danger", text: "Lever", "aria-label": `Lever la conservation ${h.reference}`, onclick: () => lever(h) }))))))
    : el("p", { text: "Aucune conservation en cours." });
  afficher("Conservations judiciaires", form,
    el("section", { "aria-labelledby": "titre-conservations" },
      el("h2", { id: "titre-conservations", text: "Conservations" }), bascule, table));
}
