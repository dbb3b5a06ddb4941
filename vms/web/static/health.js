// Camera health (« Santé des caméras »; CSD-10, ALR-04, LAW-07): per camera the technical
// faults open (raised by the alert desk's health checks), recording availability over
// 24 hours and 7 days and the last measures; for one camera, its bitrate and stored
// frame rate over time drawn on a canvas (no library), its gaps and its faults.
// Reads GET /api/v1/health/cameras and GET /api/v1/cameras/{id}/health.

import { api, afficher, dire, el, parametresVue } from "./lib.js";

const PERIODES = { "24h": ["24 heures", 24 * 3600e3], "7j": ["7 jours", 7 * 24 * 3600e3] };
const CAUSES = {
  connect_refused: "Connexion refusée", timeout: "Délai dépassé", stall: "Flux figé", eof: "Fin de flux",
  decode_error: "Erreur de décodage", timestamp_jump: "Saut d'horodatage", crash: "Arrêt anormal",
  shutdown: "Arrêt du service", storage_error: "Erreur de stockage",
  failover: "Reprise par un autre enregistreur", handover: "Transfert vers un autre enregistreur",
};
const ETATS_ALERTE = {
  nouvelle: "Nouvelle", prise_en_compte: "Prise en compte", levee_de_doute: "Levée de doute en cours",
  escaladee: "Escaladée", cloturee: "Clôturée",
};

const pourcent = (x) => `${(100 * x).toLocaleString("fr-FR", { maximumFractionDigits: 1 })} %`;
const date = (iso) => (iso ? new Date(iso).toLocaleString("fr-FR") : "—");

export async function vueSante() {
  const camera = parametresVue().get("camera");
  if (camera) return vueCameraSante(camera);
  const { cameras } = await api("GET", "/api/v1/health/cameras");
  const lignes = cameras.map((c) => {
    const mesure = c.streams.reduce((a, s) => (!a || s.width * s.height > a.width * a.height ? s : a), null);
    return el("tr", { class: c.faults.length ? "sante-defaut" : null },
      el("td", {}, el("a", { href: `#/sante?camera=${encodeURIComponent(c.id)}`, text: c.name })),
      el("td", { text: c.tenant_name }),
      el("td", {}, c.faults.length
        ? el("ul", { class: "sante-defauts" }, c.faults.map((f) => el("li", { text: `${f.label} (depuis ${date(f.raised_at)})` })))
        : el("span", { class: "sante-ok", text: "Aucun défaut" })),
      el("td", { class: "nombre", text: pourcent(c.availability_24h) }),
      el("td", { class: "nombre", text: pourcent(c.availability_7d) }),
      el("td", { text: mesure ? `${mesure.width}×${mesure.height}, ${mesure.fps} i/s, ${Math.round(mesure.bitrate_bps / 1000)} kbit/s` : "Aucune mesure récente" }));
  });
  const enDefaut = cameras.filter((c) => c.faults.length).length;
  afficher("Santé des caméras",
    el("p", { text: `${cameras.length} caméra(s), ${enDefaut} en défaut.` }),
    el("table", { class: "sante-table" },
      el("caption", { text: "État des caméras dont vous traitez les alertes techniques" }),
      el("thead", {}, el("tr", {}, ["Caméra", "Commune", "Défauts ouverts", "Disponibilité 24 h", "Disponibilité 7 jours", "Dernière mesure"]
        .map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", {}, lignes)));
}

async function vueCameraSante(camera) {
  const periode = PERIODES[parametresVue().get("periode")] ? parametresVue().get("periode") : "24h";
  const until = new Date();
  const since = new Date(until.getTime() - PERIODES[periode][1]);
  const q = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
  const h = await api("GET", `/api/v1/cameras/${encodeURIComponent(camera)}/health?${q}`);
  const choixPeriode = el("p", { class: "sante-periodes" }, Object.entries(PERIODES).map(([k, [libelle]]) =>
    el("a", { href: `#/sante?camera=${encodeURIComponent(camera)}&periode=${k}`, "aria-current": k === periode ? "page" : null, text: libelle })));
  const debit = courbe("Débit enregistré (kbit/s)", h.samples, (s) => s.bitrate_bps / 1000, since, until, h.gaps);
  const ips = courbe("Images enregistrées par seconde", h.samples, (s) => s.fps, since, until, h.gaps);
  afficher(`Santé — ${h.camera.name}`,
    el("p", {}, el("a", { href: "#/sante", text: "← Toutes les caméras" })),
    choixPeriode,
    el("p", { text: `Disponibilité sur la période : ${h.availability === null ? "—" : pourcent(h.availability)}` +
      (h.truncated ? " (mesures tronquées : choisissez une période plus courte)" : "") }),
    debit, ips,
    el("h2", { text: "Défauts" }),
    h.faults.length ? el("ul", {}, h.faults.map((f) => el("li", {
      text: `${f.label} — ${ETATS_ALERTE[f.state] ?? f.state}, du ${date(f.raised_at)}${f.closed_at ? ` au ${date(f.closed_at)}` : ""}` })))
      : el("p", { text: "Aucun défaut sur la période." }),
    el("h2", { text: "Coupures d'enregistrement" }),
    h.gaps.length ? el("table", { class: "sante-table" },
      el("thead", {}, el("tr", {}, ["Flux", "Début", "Fin", "Durée", "Cause"].map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", {}, h.gaps.map((g) => el("tr", {},
        el("td", { text: g.stream }), el("td", { text: date(g.start_at) }), el("td", { text: date(g.end_at) }),
        el("td", { class: "nombre", text: `${Math.round((new Date(g.end_at) - new Date(g.start_at)) / 1000)} s` }),
        el("td", { text: CAUSES[g.cause] ?? g.cause })))))
      : el("p", { text: "Aucune coupure sur la période." }));
  if (!h.samples.length) dire("Aucune mesure de santé sur cette période.");
}

/** A line chart per stream of ``valeur(sample)`` over [since, until], gaps shaded. */
function courbe(titre, samples, valeur, since, until, gaps) {
  const largeur = 900, hauteur = 220, marge = { g: 56, d: 12, h: 12, b: 28 };
  const canvas = el("canvas", { width: largeur, height: hauteur, class: "sante-courbe", role: "img" });
  const parFlux = new Map();
  for (const s of samples) {
    if (!parFlux.has(s.stream)) parFlux.set(s.stream, []);
    parFlux.get(s.stream).push([new Date(s.at).getTime(), valeur(s)]);
  }
  const max = Math.max(1, ...samples.map(valeur)) * 1.1;
  const t0 = since.getTime(), t1 = until.getTime();
  const x = (t) => marge.g + ((t - t0) / (t1 - t0)) * (largeur - marge.g - marge.d);
  const y = (v) => hauteur - marge.b - (v / max) * (hauteur - marge.h - marge.b);
  const ctx = canvas.getContext("2d");
  const couleurs = ["#000091", "#b34000", "#18753c", "#6a6af4"];
  if (ctx) {
    ctx.font = "12px sans-serif";
    ctx.fillStyle = "#fdd";
    for (const g of gaps) {
      const a = x(Math.max(t0, new Date(g.start_at).getTime())), b = x(Math.min(t1, new Date(g.end_at).getTime()));
      ctx.fillRect(a, marge.h, Math.max(1, b - a), hauteur - marge.h - marge.b);
    }
    ctx.strokeStyle = "#999"; ctx.fillStyle = "#333";
    ctx.beginPath(); ctx.moveTo(marge.g, marge.h); ctx.lineTo(marge.g, hauteur - marge.b); ctx.lineTo(largeur - marge.d, hauteur - marge.b); ctx.stroke();
    for (const v of [0, max / 2, max]) ctx.fillText(v.toLocaleString("fr-FR", { maximumFractionDigits: 1 }), 4, y(v) + 4);
    for (const t of [t0, (t0 + t1) / 2, t1]) {
      const texte = new Date(t).toLocaleString("fr-FR", { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" });
      ctx.fillText(texte, Math.min(x(t), largeur - 80) - 20, hauteur - 8);
    }
    let i = 0;
    for (const [flux, points] of parFlux) {
      ctx.strokeStyle = couleurs[i % couleurs.length];
      ctx.beginPath();
      points.forEach(([t, v], k) => (k ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
      ctx.stroke();
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillText(flux, largeur - marge.d - 60, marge.h + 14 * (i + 1));
      i += 1;
    }
  }
  const dernier = samples.length ? valeur(samples[samples.length - 1]) : null;
  canvas.setAttribute("aria-label", `${titre} : ${samples.length} mesure(s)` +
    (dernier === null ? "" : `, dernière ${dernier.toLocaleString("fr-FR", { maximumFractionDigits: 1 })}`));
  return el("figure", { class: "sante-figure" }, el("figcaption", { text: titre }), canvas);
}
