// Reports (« Rapports »; EVD-12, CONF-02, CONF-03, ALR-03/05, LAW-04, CONF-05): a CSV report
// of a month or any period downloaded from GET /api/v1/reports/csv, the month's statistics
// drawn as charts on canvases (no library) from GET /api/v1/reports/stats, each with a
// caption, an aria-label summing up its figures and the table of its numbers beneath;
// the anonymised view for committees (ALR-05: pseudonyms, no free text); the stored
// monthly recordings reports (GET /api/v1/reports) and a commune's reversibility archive
// (GET /api/v1/reports/reversibility). The server checks the rights; the page only
// offers what the account may ask.

import { api, afficher, champ, choix, dire, el, moi, peut } from "./lib.js";

const STATS = ["admin_cameras", "read_statistics"];
const TYPES = {
  enregistrements: ["Enregistrements (EVD-12)", ["admin_cameras"]],
  alertes: ["Alertes par commune et par type", STATS],
  alertes_camera: ["Alertes par caméra (ALR-05)", STATS],
  comite: ["Alertes, vue anonymisée pour les comités (ALR-05)", STATS],
  tickets: ["Tickets d'incident par trimestre", ["admin_cameras"]],
  disponibilite: ["Disponibilité des caméras", ["admin_cameras"]],
  usage: ["Statistiques d'utilisation", ["admin_users"]],
  registre: ["Registre pour la préfecture (LAW-04)", ["read_audit"]],
};
const PAS = { jour: "Par jour", mois: "Par mois", detail: "Détail des sessions" };
const BLEU = "#000091", ORANGE = "#b34000", VERT = "#18753c";

function moisPrecedent() {
  const d = new Date();
  d.setDate(0);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

// -- number formats ----------------------------------------------------------------------

const nombre = (x) => x.toLocaleString("fr-FR", { maximumFractionDigits: 1 });
const pourcent = (x) => `${nombre(100 * x)} %`;
function duree(s) {
  if (s < 120) return `${nombre(s)} s`;
  if (s < 7200) return `${nombre(s / 60)} min`;
  return `${nombre(s / 3600)} h`;
}
const minute = (iso) => new Date(iso).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "short" });

/** A cell of the JSON statistics, in French, after its field's unit. */
function valeur(champ, v) {
  if (v === null || v === undefined || v === "") return "—";
  if (champ.unite === "s") return duree(v);
  if (champ.unite === "ratio") return pourcent(v);
  if (champ.unite === "nombre") return nombre(v);
  if (champ.unite === "date-heure") return minute(v);
  if (champ.nom === "camera" && v === "") return "Sans caméra";
  return String(v);
}

// -- the period of a chart ---------------------------------------------------------------

/** The months of the chosen month's year up to the end of its quarter, Paris time
 * (summer time runs from late March to late October: quarters start at +01:00 in January,
 * at +02:00 in April, July and October). */
function anneeAuTrimestre(mois) {
  const [annee, m] = mois.split("-").map(Number);
  const fin = Math.floor((m - 1) / 3) * 3 + 4; // first month of the next quarter
  const until = fin > 12 ? `${annee + 1}-01-01T00:00:00+01:00` : `${annee}-${String(fin).padStart(2, "0")}-01T00:00:00+02:00`;
  return { since: `${annee}-01-01T00:00:00+01:00`, until };
}

// -- charts ------------------------------------------------------------------------------

/** Bars on a canvas: one group per category, one bar per series (``series``: [{nom,
 * couleur, valeurs}]); vertical, or horizontal with ``horizontal``. */
function barres({ categories, series, horizontal = false, max = null, format = nombre }) {
  const largeur = 900;
  const pas = horizontal ? 18 * series.length + 14 : 0;
  const hauteur = horizontal ? Math.max(120, 40 + pas * categories.length) : 260;
  const marge = horizontal ? { g: 180, d: 70, h: 24, b: 16 } : { g: 56, d: 12, h: 24, b: 44 };
  const canvas = el("canvas", { width: largeur, height: hauteur, class: "rapport-graphique", role: "img" });
  const haut = max ?? Math.max(1, Math.ceil(Math.max(...series.flatMap((s) => s.valeurs)) * 1.1));
  const ctx = canvas.getContext("2d");
  if (!ctx) return canvas;
  ctx.font = "12px sans-serif";
  ctx.strokeStyle = "#999";
  ctx.beginPath();
  ctx.moveTo(marge.g, marge.h);
  ctx.lineTo(marge.g, hauteur - marge.b);
  ctx.lineTo(largeur - marge.d, hauteur - marge.b);
  ctx.stroke();
  series.forEach((s, i) => {  // legend
    ctx.fillStyle = s.couleur;
    ctx.fillRect(marge.g + 160 * i, 6, 10, 10);
    ctx.fillStyle = "#333";
    ctx.fillText(s.nom, marge.g + 160 * i + 14, 15);
  });
  if (horizontal) {
    const w = largeur - marge.g - marge.d;
    categories.forEach((c, k) => {
      const y0 = marge.h + 8 + k * pas;
      ctx.fillStyle = "#333";
      ctx.fillText(c.length > 26 ? `${c.slice(0, 25)}…` : c, 4, y0 + 9 * series.length + 4);
      series.forEach((s, i) => {
        const v = s.valeurs[k] ?? 0;
        ctx.fillStyle = s.couleur;
        ctx.fillRect(marge.g, y0 + 18 * i, (Math.min(v, haut) / haut) * w, 14);
        ctx.fillStyle = "#333";
        ctx.fillText(format(v), marge.g + (Math.min(v, haut) / haut) * w + 4, y0 + 18 * i + 11);
      });
    });
    return canvas;
  }
  const h = hauteur - marge.h - marge.b;
  const groupe = (largeur - marge.g - marge.d) / Math.max(1, categories.length);
  const barre = Math.min(60, (groupe * 0.7) / series.length);
  ctx.fillStyle = "#333";
  for (const v of [0, haut / 2, haut]) ctx.fillText(format(v), 4, hauteur - marge.b - (v / haut) * h + 4);
  categories.forEach((c, k) => {
    const x0 = marge.g + k * groupe + (groupe - barre * series.length) / 2;
    series.forEach((s, i) => {
      const v = s.valeurs[k] ?? 0;
      ctx.fillStyle = s.couleur;
      ctx.fillRect(x0 + i * barre, hauteur - marge.b - (v / haut) * h, barre - 2, (v / haut) * h);
    });
    ctx.fillStyle = "#333";
    ctx.fillText(c.length > 18 ? `${c.slice(0, 17)}…` : c, marge.g + k * groupe + 4, hauteur - marge.b + 16);
  });
  return canvas;
}

/** The table of a statistics answer (``champs`` in columns), the chart's text fallback. */
function tableau(legende, stats, champs) {
  const colonnes = stats.champs.filter((c) => champs.includes(c.nom));
  return el("table", { class: "rapport-table" },
    el("caption", { text: legende }),
    el("thead", {}, el("tr", {}, colonnes.map((c) => el("th", { scope: "col", text: c.libelle })))),
    el("tbody", {}, stats.lignes.map((l) => el("tr", {}, colonnes.map((c) => el("td", {
      class: c.unite && c.unite !== "date-heure" ? "nombre" : null,
      text: c.nom === "camera" && !l.camera ? "Sans caméra" : valeur(c, l[c.nom]),
    }))))));
}

/** One chart: caption, canvas with its aria-label, the CSV download, the table. */
function figure({ id, titre, resume, canvas, table, csv }) {
  canvas.setAttribute("aria-label", resume);
  canvas.id = `graphique-${id}`;
  return el("figure", { class: "rapport-figure", id: `figure-${id}` },
    el("figcaption", { text: titre }),
    canvas,
    el("p", {}, el("a", { class: "bouton", href: csv, download: "", text: "Télécharger (CSV)" })),
    table);
}

function lienCsv(type, periode) {
  return `/api/v1/reports/csv?${new URLSearchParams({ type, ...periode })}`;
}

// -- the month's statistics ----------------------------------------------------------------

let demande = 0; // the latest request of statistics: an older answer is dropped

async function statistiques(zone, mois, commune, complet) {
  const numero = ++demande;
  const periode = { mois, ...(commune ? { commune } : {}) };
  const lire = (type, p = periode) => api("GET", `/api/v1/reports/stats?${new URLSearchParams({ type, ...p })}`);
  const [alertes, parCamera, comite] = await Promise.all([lire("alertes"), lire("alertes_camera"), lire("comite")]);
  const figures = [];
  const types = alertes.lignes.map((l) => l.type);
  const total = alertes.lignes.reduce((a, l) => a + l.alertes, 0);
  figures.push(figure({
    id: "alertes", titre: `Alertes par type — ${mois}`, csv: lienCsv("alertes", periode),
    canvas: barres({ categories: types, series: [{ nom: "Alertes", couleur: BLEU, valeurs: alertes.lignes.map((l) => l.alertes) }] }),
    resume: `Alertes par type : ${total} alerte(s)` + alertes.lignes.map((l) =>
      ` ; ${l.type} : ${l.alertes}, délai de prise en compte médian ${l.delai_prise_en_compte_median_s === null ? "—" : duree(l.delai_prise_en_compte_median_s)}` +
      `, 90e centile ${l.delai_prise_en_compte_p90_s === null ? "—" : duree(l.delai_prise_en_compte_p90_s)}, ${l.escaladees} escaladée(s)` +
      `, fausses alertes ${l.taux_fausses_alertes === null ? "—" : pourcent(l.taux_fausses_alertes)}`).join(""),
    table: tableau("Alertes par type", alertes, ["commune", "type", "alertes", "prises_en_compte", "delai_prise_en_compte_median_s",
      "delai_prise_en_compte_p90_s", "escaladees", "cloturees", "taux_fausses_alertes", "en_retard"]),
  }));
  const cameras = parCamera.lignes.map((l) => l.camera || "Sans caméra");
  figures.push(figure({
    id: "alertes-camera", titre: `Alertes par caméra — ${mois}`, csv: lienCsv("alertes_camera", periode),
    canvas: barres({ categories: cameras, horizontal: true, series: [
      { nom: "Alertes", couleur: BLEU, valeurs: parCamera.lignes.map((l) => l.alertes) },
      { nom: "Incidents réels", couleur: ORANGE, valeurs: parCamera.lignes.map((l) => l.incidents_reels) }] }),
    resume: "Alertes par caméra" + parCamera.lignes.map((l) =>
      ` ; ${l.camera || "sans caméra"} : ${l.alertes} alerte(s), ${l.traitees} traitée(s), ${l.en_retard} en retard, ${l.incidents_reels} incident(s) réel(s)`).join(""),
    table: tableau("Alertes par caméra", parCamera, ["commune", "camera", "alertes", "traitees", "en_retard", "incidents_reels",
      "delai_resolution_incident_median_s", "delai_resolution_incident_p90_s"]),
  }));
  if (complet) {
    const annee = { ...anneeAuTrimestre(mois), ...(commune ? { commune } : {}) };
    const [tickets, dispo] = await Promise.all([lire("tickets", annee), lire("disponibilite")]);
    figures.push(figure({
      id: "tickets", titre: `Tickets d'incident par trimestre — ${mois.slice(0, 4)}`, csv: lienCsv("tickets", annee),
      canvas: barres({ categories: tickets.lignes.map((l) => l.trimestre), series: [
        { nom: "Tickets ouverts", couleur: BLEU, valeurs: tickets.lignes.map((l) => l.tickets_ouverts) },
        { nom: "Tickets résolus", couleur: VERT, valeurs: tickets.lignes.map((l) => l.tickets_resolus) }] }),
      resume: "Tickets par trimestre" + (tickets.lignes.length ? tickets.lignes.map((l) =>
        ` ; ${l.trimestre} : ${l.tickets_ouverts} ouvert(s), ${l.tickets_resolus} résolu(s), délai de résolution moyen ${l.delai_resolution_moyen_s === null ? "—" : duree(l.delai_resolution_moyen_s)}`).join("") : " : aucun ticket"),
      table: tableau("Tickets d'incident par trimestre", tickets, ["commune", "trimestre", "tickets_ouverts", "tickets_resolus",
        "delai_resolution_moyen_s", "delai_resolution_median_s", "delai_resolution_p90_s"]),
    }));
    figures.push(figure({
      id: "disponibilite", titre: `Disponibilité des caméras — ${mois}`, csv: lienCsv("disponibilite", periode),
      canvas: barres({ categories: dispo.lignes.map((l) => l.camera), horizontal: true, max: 100, format: (v) => `${nombre(v)} %`,
        series: [{ nom: "Part du mois enregistrée", couleur: BLEU, valeurs: dispo.lignes.map((l) => 100 * l.part_periode_enregistree) }] }),
      resume: "Disponibilité par caméra" + dispo.lignes.map((l) => ` ; ${l.camera} : ${pourcent(l.part_periode_enregistree)}`).join(""),
      table: tableau("Disponibilité des caméras", dispo, ["commune", "camera", "part_periode_enregistree"]),
    }));
  }
  if (numero !== demande) return;
  zone.replaceChildren(...figures,
    el("h2", { text: "Vue anonymisée pour les comités (ALR-05)" }),
    el("p", { text: "Opérateurs remplacés par des pseudonymes propres à ce rapport, sans texte libre, heures arrondies à la minute." }),
    el("p", {}, el("a", { class: "bouton", href: lienCsv("comite", periode), download: "", text: "Télécharger (CSV)" })),
    comite.lignes.length
      ? tableau("Alertes du mois, anonymisées", comite, comite.champs.map((c) => c.nom))
      : el("p", { text: "Aucune alerte sur ce mois." }));
}

// -- the page ------------------------------------------------------------------------------

const communesEntieres = (droit) => (moi.rights[droit] ?? []).filter((c) => !c.includes("/"));

export async function vueRapports() {
  const types = Object.fromEntries(Object.entries(TYPES).filter(([, [, droits]]) => droits.some(peut)).map(([k, [t]]) => [k, t]));
  const lien = el("a", { class: "bouton", text: "Télécharger le rapport (CSV)" });
  const form = el("form", { class: "carte" },
    choix("Rapport", "type", types, Object.keys(types)[0]),
    champ("Mois", { name: "mois", type: "month", value: moisPrecedent(), required: true }),
    choix("Pas (utilisation)", "pas", PAS, "jour"),
    lien);
  const majLien = () => {
    const donnees = new FormData(form);
    const params = new URLSearchParams({ type: donnees.get("type"), mois: donnees.get("mois"), pas: donnees.get("pas") });
    lien.href = `/api/v1/reports/csv?${params}`;
    lien.download = `rapport-${donnees.get("type")}-${donnees.get("mois")}.csv`;
  };
  form.addEventListener("change", majLien);
  majLien();

  const admin = communesEntieres("admin_cameras");
  const statCommunes = [...new Set([...admin, ...communesEntieres("read_statistics")])].sort();
  const zone = el("div", { id: "rapport-statistiques", "aria-live": "polite" });
  const formStats = el("form", { class: "carte" },
    champ("Mois", { name: "mois", id: "c-stats-mois", type: "month", value: moisPrecedent(), required: true }),
    statCommunes.length > 1 ? choix("Commune", "commune", Object.fromEntries(statCommunes.map((c) => [c, c])), statCommunes[0]) : null,
    el("button", { type: "submit", text: "Afficher les statistiques" }));
  const montrer = async () => {
    const d = new FormData(formStats);
    const commune = d.get("commune") ?? statCommunes[0];
    dire("");
    try {
      await statistiques(zone, d.get("mois"), statCommunes.length > 1 ? commune : null, admin.includes(commune));
    } catch (e) { dire(e.message, true); }
  };
  formStats.addEventListener("submit", (ev) => { ev.preventDefault(); montrer(); });

  let enregistres = [];
  if (peut("admin_cameras")) ({ reports: enregistres } = await api("GET", "/api/v1/reports"));
  const communes = communesEntieres("admin_users");
  afficher("Rapports",
    Object.keys(types).length ? form : el("p", { text: "Aucun rapport n'est accessible avec vos droits." }),
    statCommunes.length ? el("h2", { text: "Statistiques du mois" }) : null,
    statCommunes.length ? formStats : null,
    statCommunes.length ? zone : null,
    peut("admin_cameras") ? el("h2", { text: "Rapports mensuels enregistrés (le 1er de chaque mois)" }) : null,
    !peut("admin_cameras") ? null : enregistres.length
      ? el("ul", {}, enregistres.map((r) => el("li", {}, el("a", {
        href: r.csv, download: "",
        text: `${r.commune} — ${new Date(r.debut).toLocaleDateString("fr-FR", { month: "long", year: "numeric" })} (créé le ${new Date(r.cree_le).toLocaleDateString("fr-FR")})`,
      }))))
      : el("p", { text: "Aucun rapport enregistré." }),
    communes.length ? el("h2", { text: "Réversibilité : toutes les données d'une commune" }) : null,
    communes.length ? el("ul", {}, communes.map((c) => el("li", {}, el("a", {
      href: `/api/v1/reports/reversibility?commune=${encodeURIComponent(c)}`, download: "",
      text: `Archive de ${c} (zip)`,
    })))) : null);
  if (statCommunes.length) await montrer();
}
