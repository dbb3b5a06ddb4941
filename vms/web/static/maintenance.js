// Camera maintenance windows (« Maintenances »; docs/design/alerts.md, « Suppression
// rules »): the current and upcoming windows of the cameras the user administers (past
// ones on demand), a form to declare one, and per window « Terminer maintenant » (in
// force: its end brought to now) or « Annuler » (not started: withdrawn, kept for the
// record). Reads GET /api/v1/cameras and GET /api/v1/maintenance; writes
// POST /api/v1/maintenance, POST /api/v1/maintenance/{id}/end, DELETE /api/v1/maintenance/{id}.

import { api, afficher, champ, dire, el, parametresVue } from "./lib.js";

const date = (iso) => new Date(iso).toLocaleString("fr-FR");

/** ``datetime-local`` value of a Date in the browser's time zone. */
function local(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function etat(w, maintenant) {
  if (new Date(w.to_at) <= maintenant) return ["passee", "Terminée"];
  if (new Date(w.from_at) <= maintenant) return ["en-cours", "En cours"];
  return ["a-venir", "À venir"];
}

export async function vueMaintenances() {
  const passees = parametresVue().get("passees") === "1";
  const [{ cameras }, { windows }] = await Promise.all([
    api("GET", "/api/v1/cameras"), api("GET", `/api/v1/maintenance${passees ? "?past=1" : ""}`)]);
  const miennes = cameras.filter((c) => c.rights.includes("admin_cameras"));
  const communes = Object.fromEntries(cameras.map((c) => [c.id, c.tenant_name ?? c.tenant]));
  const maintenant = new Date();
  const erreur = el("p", { id: "maintenance-erreur", class: "annonce erreur", role: "alert", hidden: true });

  const lignes = windows.map((w) => {
    const [classe, libelle] = etat(w, maintenant);
    const action = classe === "en-cours"
      ? el("button", { type: "button", class: "secondaire", text: "Terminer maintenant",
        onclick: () => agir(erreur, "POST", `/api/v1/maintenance/${w.id}/end`, `Maintenance de « ${w.camera_name} » terminée.`) })
      : classe === "a-venir"
        ? el("button", { type: "button", class: "secondaire", text: "Annuler",
          onclick: () => agir(erreur, "DELETE", `/api/v1/maintenance/${w.id}`, `Maintenance de « ${w.camera_name} » annulée.`) })
        : null;
    return el("tr", { class: `maintenance-${classe}`, "data-maintenance": w.id },
      el("td", { text: w.camera_name }), el("td", { text: communes[w.camera_id] ?? w.tenant_id }),
      el("td", { text: date(w.from_at) }), el("td", { text: date(w.to_at) }),
      el("td", { text: libelle }), el("td", { text: w.reason }), el("td", { text: w.created_by }),
      el("td", { class: "actions" }, action));
  });
  const table = windows.length
    ? el("table", { class: "maintenance-table" },
      el("caption", { text: passees ? "Maintenances, terminées comprises" : "Maintenances en cours et à venir" }),
      el("thead", {}, el("tr", {}, ["Caméra", "Commune", "Début", "Fin", "État", "Motif", "Déclarée par", "Actions"]
        .map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", {}, lignes))
    : el("p", { text: passees ? "Aucune maintenance." : "Aucune maintenance en cours ou à venir." });

  const debut = new Date(maintenant.getTime());
  debut.setSeconds(0, 0);
  const fin = new Date(debut.getTime() + 2 * 3600e3);
  const form = el("form", { class: "carte", "aria-label": "Déclarer une maintenance" },
    el("h2", { text: "Déclarer une maintenance" }),
    el("label", { for: "c-camera_id", text: "Caméra" }),
    el("select", { id: "c-camera_id", name: "camera_id", required: true },
      miennes.map((c) => el("option", { value: c.id }, `${c.name} — ${c.tenant_name ?? c.tenant}`))),
    ...champ("Début", { name: "from_at", type: "datetime-local", required: true, value: local(debut) }),
    ...champ("Fin", { name: "to_at", type: "datetime-local", required: true, value: local(fin) }),
    ...champ("Motif", { name: "reason", required: true, maxlength: "1000", placeholder: "Remplacement de l'optique" }),
    el("button", { type: "submit", text: "Déclarer" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const instant = (v) => (v ? new Date(v).toISOString() : v);
    try {
      const w = await api("POST", "/api/v1/maintenance", {
        camera_id: d.get("camera_id"), from_at: instant(d.get("from_at")), to_at: instant(d.get("to_at")),
        reason: String(d.get("reason") ?? ""),
      });
      await vueMaintenances();
      dire(`Maintenance de « ${w.camera_name} » déclarée du ${date(w.from_at)} au ${date(w.to_at)}.`);
    } catch (e) {
      erreur.textContent = e.message;
      erreur.hidden = false;
    }
  });

  afficher("Maintenances",
    el("p", { class: "maintenance-effet", text: "Pendant une maintenance, les défauts techniques de la caméra ne lèvent ni alerte ni ticket, et ses autres alertes (analyse, alarmes externes) sont enregistrées puis clôturées aussitôt par le système." }),
    el("p", {}, el("a", { href: passees ? "#/maintenances" : "#/maintenances?passees=1",
      text: passees ? "Masquer les maintenances terminées" : "Afficher aussi les maintenances terminées" })),
    table,
    miennes.length ? form : el("p", { text: "Vous n'administrez aucune caméra : la déclaration d'une maintenance demande le droit « Admin. caméras »." }),
    erreur);
}

async function agir(erreur, methode, chemin, message) {
  try {
    await api(methode, chemin);
    await vueMaintenances();
    dire(message);
  } catch (e) {
    erreur.textContent = e.message;
    erreur.hidden = false;
  }
}
