// Multi-criteria search ("Recherche", EVD-09): time range, commune, camera, operator,
// event type, hold or requisition reference. The server scopes each category by the
// caller's rights and audits the search; recordings come with a thumbnail (audited
// too, loaded only when it scrolls into view) and a link to play them back.

import { api, afficher, champ, choix, el, soumettre } from "./lib.js";
import { CAUSES, PROCEDURES, dateHeure, depuisChamp, plage, versChamp } from "./exports.js";

const JOUR_MS = 86_400_000;
const EVENEMENTS = {
  "": "Tous", enregistrement: "Enregistrements", interruption: "Interruptions",
  conservation: "Conservations judiciaires", extrait: "Extraits", acces: "Accès (journal d'audit)",
};
const STATUTS = {
  a_valider: "En attente de validation", en_file: "En file d'attente", en_cours: "En cours de production",
  pret: "Prêt à télécharger", refuse: "Refusé", echec: "Échec", detruit: "Détruit",
};

/** The playback view's address for a camera over [debut, fin] (24 hours at most). */
export function lienRelecture(camera, debut, fin) {
  const a = Date.parse(debut);
  const b = Math.min(Date.parse(fin), a + JOUR_MS);
  const p = new URLSearchParams({ camera, from: new Date(a).toISOString(), to: new Date(b).toISOString() });
  return `#/relecture?${p}`;
}

/** A thumbnail URL as sent: the server leaves the "+" of the time zone (+00:00) in
 *  the query unescaped, where it would read as a space. */

export async function vueRecherche() {
  const [{ tenants }, { cameras }] = await Promise.all([api("GET", "/api/v1/tenants"), api("GET", "/api/v1/cameras")]);
  const maintenant = new Date();
  const form = el("form", { class: "carte large filtres", role: "search", "aria-label": "Critères de recherche" },
    el("div", {}, ...champ("Depuis", { name: "from", type: "datetime-local", step: "1", required: true, value: versChamp(maintenant.getTime() - JOUR_MS) })),
    el("div", {}, ...champ("Jusqu'à", { name: "to", type: "datetime-local", step: "1", required: true, value: versChamp(maintenant) })),
    el("div", {}, ...choix("Commune", "tenant", { "": "Toutes", ...Object.fromEntries(tenants.filter((t) => t.kind === "commune").map((t) => [t.id, t.name])) }, "")),
    el("div", {}, ...choix("Caméra", "camera", { "": "Toutes", ...Object.fromEntries(cameras.filter((c) => c.rights.includes("playback")).map((c) => [c.id, c.name])) }, "")),
    el("div", {}, ...champ("Nom de caméra ou de groupe", { name: "q", maxlength: "100" })),
    el("div", {}, ...champ("Opérateur (identifiant)", { name: "operator", maxlength: "128" })),
    el("div", {}, ...choix("Type d'événement", "event", EVENEMENTS, "")),
    el("div", {}, ...champ("N° de PV, de réquisition ou de procédure", { name: "reference", maxlength: "200" })),
    el("div", {}, el("button", { type: "submit", text: "Rechercher" })));
  const resultats = el("div", { class: "recherche-resultats", "aria-live": "polite" });
  soumettre(form, async (d) => {
    const params = new URLSearchParams({ from: depuisChamp(d.get("from"), "Depuis"), to: depuisChamp(d.get("to"), "Jusqu'à") });
    for (const k of ["tenant", "camera", "q", "operator", "event", "reference"]) if (d.get(k)?.trim()) params.set(k, d.get(k).trim());
    resultats.replaceChildren(el("p", { text: "Recherche…" }));
    try {
      resultats.replaceChildren(...afficherResultats(await api("GET", `/api/v1/search?${params}`)));
    } catch (e) {
      resultats.replaceChildren();
      throw e;
    }
  });
  afficher("Recherche", form,
    el("p", { class: "droits", text: "Chaque recherche est journalisée avec ses critères ; chaque vignette affichée aussi." }),
    resultats);
}

function afficherResultats({ results }) {
  const sections = [];
  const section = (cle, titre, lignes, contenu) => {
    if (!lignes) return;
    sections.push(el("section", { class: `recherche-${cle}`, "aria-labelledby": `titre-${cle}` },
      el("h2", { id: `titre-${cle}`, text: `${titre} (${lignes.length})` }),
      lignes.length ? contenu(lignes) : el("p", { class: "droits", text: "Aucun résultat." })));
  };
  const table = (entetes, lignes, cellules) => el("table", {},
    el("thead", {}, el("tr", {}, entetes.map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, lignes.map((l) => el("tr", {}, cellules(l).map((c) => el("td", {}, c))))));

  section("enregistrements", "Enregistrements", results.enregistrements, (lignes) => el("ul", { class: "vignettes" },
    lignes.map((r) => el("li", { class: "vignette", "data-camera": r.camera },
      el("a", { href: lienRelecture(r.camera, r.start, r.end), "aria-label": `Relire ${r.camera_name} du ${dateHeure(r.start)} au ${dateHeure(r.end)}` },
        el("img", { src: r.thumbnail, loading: "lazy", width: "320", height: "180", alt: `Image de ${r.camera_name} le ${dateHeure(r.start)}` }),
        el("span", { class: "vignette-nom", text: r.camera_name }),
        el("span", { class: "droits", text: plage(r.start, r.end) }))))));
  section("interruptions", "Interruptions", results.interruptions, (lignes) => table(
    ["Caméra", "Plage", "Cause", "Détail", ""], lignes,
    (g) => [g.camera_name, plage(g.start, g.end), CAUSES[g.cause] ?? g.cause, g.detail ?? "",
      el("a", { href: lienRelecture(g.camera, new Date(Date.parse(g.start) - 60_000).toISOString(), new Date(Date.parse(g.end) + 60_000).toISOString()), text: "Relire autour" })]));
  section("conservations", "Conservations judiciaires", results.conservations, (lignes) => table(
    ["Référence", "Procédure", "Requérant", "Caméras", "Plage protégée", "État"], lignes,
    (h) => [h.reference, PROCEDURES[h.procedure] ?? h.procedure, h.requested_by, h.cameras.join(", "),
      plage(h.start, h.end), h.released_at ? `Levée le ${dateHeure(h.released_at)}` : "Active"]));
  section("extraits", "Extraits", results.extraits, (lignes) => table(
    ["N°", "Référence", "Caméras", "Plage", "Demandé par", "Validé par", "État"], lignes,
    (x) => [String(x.id), x.reference, x.cameras.join(", "), plage(x.start, x.end), x.requested_by,
      x.approved_by ?? "—", STATUTS[x.status] ?? x.status]));
  section("acces", "Accès (journal d'audit)", results.acces, (lignes) => table(
    ["Date", "Qui", "Action", "Objet", "Détail"], lignes,
    (e) => [dateHeure(e.at), e.actor, e.action, e.target ?? "", Object.keys(e.detail ?? {}).length ? JSON.stringify(e.detail) : ""]));
  return sections.length ? sections : [el("p", { text: "Aucun résultat pour ces critères (ou aucun droit sur ces catégories)." })];
}
