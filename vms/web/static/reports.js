// Reports (« Rapports »; EVD-12, CONF-02, CONF-03, LAW-04, CONF-05): a CSV report of a
// month or any period downloaded from GET /api/v1/reports/csv, the stored monthly
// recordings reports (GET /api/v1/reports) and a commune's reversibility archive
// (GET /api/v1/reports/reversibility). The server checks the rights; the page only
// offers what the account may ask.

import { api, afficher, champ, choix, el, moi, peut } from "./lib.js";

const TYPES = {
  enregistrements: ["Enregistrements (EVD-12)", "admin_cameras"],
  alertes: ["Alertes par commune et par type", "admin_cameras"],
  tickets: ["Tickets d'incident par trimestre", "admin_cameras"],
  disponibilite: ["Disponibilité des caméras", "admin_cameras"],
  usage: ["Statistiques d'utilisation", "admin_users"],
  registre: ["Registre pour la préfecture (LAW-04)", "read_audit"],
};
const PAS = { jour: "Par jour", mois: "Par mois", detail: "Détail des sessions" };

function moisPrecedent() {
  const d = new Date();
  d.setDate(0);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

export async function vueRapports() {
  const types = Object.fromEntries(Object.entries(TYPES).filter(([, [, droit]]) => peut(droit)).map(([k, [t]]) => [k, t]));
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
  let enregistres = [];
  if (peut("admin_cameras")) ({ reports: enregistres } = await api("GET", "/api/v1/reports"));
  const communes = (moi.rights.admin_users ?? []).filter((c) => !c.includes("/"));
  afficher("Rapports",
    Object.keys(types).length ? form : el("p", { text: "Aucun rapport n'est accessible avec vos droits." }),
    el("h2", { text: "Rapports mensuels enregistrés (le 1er de chaque mois)" }),
    enregistres.length
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
}
