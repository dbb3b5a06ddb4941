// Console of the supervision centre: plain ES module, no build step.
// Every screen reads the JSON API (/api/v1); the session lives in an HttpOnly cookie
// and state-changing requests echo the CSRF token returned at sign-in (or by /me).

import {
  api, afficher, champ, choix, dire, el, moi, oublierSession, peut, quitterEcran, setCsrf, setMoi,
  soumettre, ETATS, ROLES,
} from "./lib.js";
import { vueMur } from "./wall.js";
import { controlesDirect, sectionLiens } from "./cameras_live.js";
import { panneauOnvif } from "./onvif.js";
import { vueRelecture } from "./playback.js";
import { vueConservations, vueExtraits } from "./exports.js";
import { vueRecherche } from "./search.js";
import { vueAnalyse } from "./analytics.js";
import { vueAlertes, vueHistoriqueAlertes, vueTickets } from "./alerts.js";
import { vueSante } from "./health.js";
import { vueRapports } from "./reports.js";
import { vueMaintenances } from "./maintenance.js";

const LIBELLES_DROITS = {
  view_live: "Direct", playback: "Relecture", export: "Export", ptz: "PTZ",
  manage_holds: "Conservations", lift_masks: "Levée des masques",
  configure_analytics: "Analyse", admin_users: "Admin. comptes",
  admin_cameras: "Admin. caméras", read_audit: "Audit",
  handle_alerts: "Traiter les alertes",
  alert_input: "Transmettre des alarmes externes",
  read_statistics: "Statistiques anonymisées (comités)",
};
const HABILITATIONS = {
  police_nationale: "Police nationale", gendarmerie: "Gendarmerie nationale",
  police_municipale: "Police municipale", agent_agree: "Agent agréé",
  operateur_csd: "Opérateur CSD", admin_technique: "Administrateur technique",
};

// -- sign-in ---------------------------------------------------------------------------

function vueConnexion() {
  document.getElementById("menu").hidden = true;
  document.getElementById("identite").hidden = true;
  const form = el("form", { class: "carte", "aria-label": "Connexion" },
    ...champ("Identifiant", { name: "login", autocomplete: "username", required: true }),
    ...champ("Mot de passe", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    el("button", { type: "submit", text: "Se connecter" }));
  afficher("Connexion", soumettre(form, async (d) => {
    const r = await api("POST", "/api/v1/auth/login", { login: d.get("login"), password: d.get("password") });
    setCsrf(r.csrf_token);
    if (r.next === "totp") return vueCode();
    if (r.next === "enroll") return vueEnrolement();
    await apresConnexion();
  }));
}

function formulaireCode(texte) {
  const form = el("form", { class: "carte", "aria-label": "Code de vérification" },
    el("p", { text: texte }),
    ...champ("Code à 6 chiffres", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: "6", required: true }),
    el("button", { type: "submit", text: "Valider" }));
  return soumettre(form, async (d) => {
    const r = await api("POST", "/api/v1/auth/totp", { code: d.get("code") });
    setCsrf(r.csrf_token);
    await apresConnexion();
  });
}

function vueCode() {
  afficher("Second facteur", formulaireCode("Saisissez le code affiché par votre application d'authentification."));
}

async function vueEnrolement() {
  const r = await api("POST", "/api/v1/auth/totp/enroll");
  const groupes = r.secret.match(/.{1,4}/g).join(" ");
  afficher("Enrôlement du second facteur",
    el("section", { class: "carte" },
      el("p", { text: "Votre compte exige un second facteur. Ajoutez ce compte dans votre application d'authentification (TOTP) avec la clé suivante :" }),
      el("p", { class: "secret", id: "secret-totp", text: groupes }),
      el("details", {}, el("summary", { text: "Adresse otpauth (pour un lecteur de QR code)" }), el("pre", { text: r.otpauth_uri }))),
    formulaireCode("Puis saisissez le code affiché pour confirmer l'enrôlement."));
}

function vueMotDePasse(force) {
  const form = el("form", { class: "carte", "aria-label": "Changement de mot de passe" },
    force ? el("p", { text: "Votre mot de passe est provisoire ou a expiré : choisissez-en un nouveau." }) : null,
    ...champ("Mot de passe actuel", { name: "current", type: "password", autocomplete: "current-password", required: true }),
    ...champ("Nouveau mot de passe", { name: "new", type: "password", autocomplete: "new-password", required: true, "aria-describedby": "regle-mdp" }),
    el("p", { id: "regle-mdp", class: "droits", text: "12 caractères au moins mêlant minuscules, majuscules, chiffres et caractères spéciaux (8 et trois types avec un second facteur)." }),
    el("button", { type: "submit", text: "Changer le mot de passe" }));
  return soumettre(form, async (d) => {
    const r = await api("POST", "/api/v1/auth/password", { current_password: d.get("current"), new_password: d.get("new") });
    setCsrf(r.csrf_token);
    dire("Mot de passe changé. Vos autres sessions ont été fermées.");
    await apresConnexion();
  });
}

async function apresConnexion() {
  setMoi(await api("GET", "/api/v1/me"));
  if (moi.csrf_token) setCsrf(moi.csrf_token);
  if (!moi.mfa_done) return moi.user.mfa_enrolled ? vueCode() : vueEnrolement();
  document.getElementById("qui").textContent = `${moi.user.display_name} (${ROLES[moi.user.role] ?? moi.user.role})`;
  document.getElementById("identite").hidden = false;
  const menu = document.getElementById("menu");
  menu.hidden = false;
  // data-droit: one right, or several separated by commas (any of them shows the entry)
  for (const a of menu.querySelectorAll("[data-droit]")) a.parentElement.hidden = !a.dataset.droit.split(",").some(peut);
  if (moi.must_change_password) return afficher("Changement de mot de passe", vueMotDePasse(true));
  if (!location.hash || location.hash === "#/connexion") location.hash = "#/cameras";
  else route();
}

// -- cameras ---------------------------------------------------------------------------

async function vueCameras() {
  const [{ tenants }, { cameras }] = await Promise.all([api("GET", "/api/v1/tenants"), api("GET", "/api/v1/cameras")]);
  const hab = moi.habilitation;
  const avert = hab.in_force ? null : el("p", { class: "annonce erreur", text: `Accès aux images suspendu : ${hab.status}.` });
  const parCommune = new Map();
  for (const c of cameras) {
    if (!parCommune.has(c.tenant)) parCommune.set(c.tenant, []);
    parCommune.get(c.tenant).push(c);
  }
  const noms = Object.fromEntries(tenants.map((t) => [t.id, t]));
  const groupes = new Map();
  for (const [tenant, cams] of parCommune) {
    const parent = noms[tenant]?.parent_id ?? null;
    if (!groupes.has(parent)) groupes.set(parent, []);
    groupes.get(parent).push([tenant, cams]);
  }
  const liens = peut("export") || peut("admin_cameras") ? sectionLiens(cameras) : null;
  const commune = ([tenant, cams]) => el("li", {},
    el("p", { class: "commune", text: `${noms[tenant]?.name ?? cams[0].tenant_name} (${cams.length} caméra${cams.length > 1 ? "s" : ""})` }),
    el("ul", {}, cams.map((c) => el("li", { class: "camera", "data-camera": c.id },
      el("span", { text: c.name }),
      el("span", { class: `etat etat-${c.status}`, text: ETATS[c.status] ?? c.status }),
      el("span", { class: "droits", text: c.rights.map((r) => LIBELLES_DROITS[r] ?? r).join(", ") }),
      controlesDirect(c, { apresPartage: () => liens?.charger() })))));
  const arbre = el("ul", { class: "arbre", "aria-label": "Caméras par commune" });
  for (const [parent, communes] of groupes) {
    if (parent === null) arbre.append(...communes.map(commune));
    else arbre.append(el("li", {}, el("p", { class: "commune", text: noms[parent]?.name ?? parent }), el("ul", {}, communes.map(commune))));
  }
  await liens?.charger();
  afficher("Caméras", avert, cameras.length ? arbre : el("p", { text: "Aucune caméra dans votre périmètre." }),
    liens?.section ?? null, panneauOnvif(tenants));
}

// -- users -----------------------------------------------------------------------------

async function vueUtilisateurs() {
  const [{ users }, { tenants }] = await Promise.all([api("GET", "/api/v1/users"), api("GET", "/api/v1/tenants")]);
  const mesCommunes = moi.rights.admin_users ?? [];
  const table = el("table", {},
    el("caption", { class: "droits", text: `${users.length} compte(s)` }),
    el("thead", {}, el("tr", {}, ["Identifiant", "Nom", "Rôle", "Rattachement", "Habilitation", "État", "Actions"].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, users.map((u) => el("tr", { "data-login": u.login },
      el("td", { text: u.login }), el("td", { text: u.display_name }), el("td", { text: ROLES[u.role] ?? u.role }),
      el("td", { text: u.tenant }),
      el("td", { text: u.habilitation ? `${HABILITATIONS[u.habilitation]} — ${u.habilitation_ref} (jusqu'au ${u.habilitation_expires_on})` : "—" }),
      el("td", { text: u.disabled ? "Désactivé" : (u.mfa_enrolled || !u.mfa_required ? "Actif" : "Actif (2FA à enrôler)") }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "secondaire", text: "Droits", onclick: () => vueDroits(u.id) }),
        el("button", { type: "button", class: "secondaire", text: u.disabled ? "Réactiver" : "Désactiver", onclick: () => basculer(u) }),
        el("button", { type: "button", class: "secondaire", text: "Mot de passe", onclick: () => reinitialiser(u) }),
        el("button", { type: "button", class: "secondaire", text: "2FA", onclick: () => reinitMfa(u) }))))));
  const options = Object.fromEntries(tenants.filter((t) => mesCommunes.includes(t.id)).map((t) => [t.id, t.name]));
  const creation = el("form", { class: "carte", "aria-label": "Nouveau compte" },
    el("h2", { text: "Nouveau compte" }),
    ...champ("Identifiant", { name: "login", required: true, pattern: "[a-z0-9][a-z0-9._@-]{1,63}" }),
    ...champ("Nom affiché", { name: "display_name", required: true }),
    ...champ("Courriel", { name: "email", type: "email" }),
    ...choix("Rôle", "role", ROLES, "operator"),
    ...choix("Rattachement", "tenant", options),
    ...choix("Habilitation", "habilitation", { "": "Aucune (pas d'accès aux images)", ...HABILITATIONS }, ""),
    ...champ("Référence de l'acte de désignation", { name: "habilitation_ref" }),
    ...champ("Échéance de l'habilitation", { name: "habilitation_expires_on", type: "date" }),
    ...champ("Validité imposée du mot de passe (jours, facultatif)", { name: "password_valid_days", type: "number", min: "1", max: "3650" }),
    ...champ("Mot de passe provisoire", { name: "password", type: "password", autocomplete: "new-password", required: true }),
    el("button", { type: "submit", text: "Créer le compte" }));
  soumettre(creation, async (d) => {
    const corps = { login: d.get("login"), display_name: d.get("display_name"), role: d.get("role"), tenant: d.get("tenant"), password: d.get("password") };
    if (d.get("email")) corps.email = d.get("email");
    if (d.get("habilitation")) Object.assign(corps, { habilitation: d.get("habilitation"), habilitation_ref: d.get("habilitation_ref"), habilitation_expires_on: d.get("habilitation_expires_on") });
    if (d.get("password_valid_days")) corps.password_valid_days = Number(d.get("password_valid_days"));
    await api("POST", "/api/v1/users", corps);
    dire(`Compte « ${corps.login} » créé : mot de passe à changer à la première connexion.`);
    await vueUtilisateurs();
  });
  const fichier = el("form", { class: "carte", "aria-label": "Import CSV" },
    el("h2", { text: "Import / export CSV" }),
    el("p", {}, el("a", { href: "/api/v1/users/export.csv", download: "utilisateurs.csv", text: "Exporter les comptes (CSV)" })),
    ...champ("Fichier à importer", { name: "fichier", type: "file", accept: ".csv,text/csv", required: true }),
    el("button", { type: "submit", text: "Simuler l'import" }),
    el("div", { id: "rapport-import", "aria-live": "polite" }));
  soumettre(fichier, async (d) => {
    const texte = await d.get("fichier").text();
    await rapportImport(texte, true);
  });
  afficher("Utilisateurs", table, creation, fichier);
}

async function rapportImport(texte, simulation) {
  const zone = document.getElementById("rapport-import");
  let r;
  try { r = await api("POST", `/api/v1/users/import?dry_run=${simulation}`, texte, "text/csv"); }
  catch (e) { zone.replaceChildren(el("p", { class: "annonce erreur", text: e.message })); return; }
  const lignes = [
    `Créés : ${r.counts.created}`, `Modifiés : ${r.counts.updated}`, `Inchangés : ${r.counts.unchanged}`, `Absents du fichier (conservés) : ${r.counts.absent}`,
  ];
  const details = r.updated.map((u) => `${u.login} : ${Object.entries(u.changes).map(([k, v]) => `${k} ${v.old || "∅"} → ${v.new || "∅"}`).join(", ")}`);
  zone.replaceChildren(el("pre", { text: [...lignes, ...r.created.map((l) => `+ ${l}`), ...details].join("\n") }),
    simulation ? el("button", { type: "button", text: "Appliquer l'import", onclick: () => rapportImport(texte, false) }) : el("p", { text: "Import appliqué. Les nouveaux comptes doivent recevoir un mot de passe (réinitialisation)." }));
}

async function basculer(u) {
  await api("PATCH", `/api/v1/users/${u.id}`, { disabled: !u.disabled });
  dire(u.disabled ? `Compte « ${u.login} » réactivé.` : `Compte « ${u.login} » désactivé : ses sessions et jetons sont révoqués.`);
  await vueUtilisateurs();
}

async function reinitialiser(u) {
  const mdp = prompt(`Mot de passe provisoire pour ${u.login} :`);
  if (!mdp) return;
  try { await api("POST", `/api/v1/users/${u.id}/password-reset`, { password: mdp }); dire(`Mot de passe de « ${u.login} » réinitialisé (à changer à la connexion).`); }
  catch (e) { dire(e.message, true); }
}

async function reinitMfa(u) {
  if (!confirm(`Réinitialiser le second facteur de ${u.login} ?`)) return;
  await api("POST", `/api/v1/users/${u.id}/mfa-reset`);
  dire(`Second facteur de « ${u.login} » à ré-enrôler.`);
}

async function vueDroits(id) {
  const u = await api("GET", `/api/v1/users/${id}`);
  const communes = moi.rights.admin_users ?? [];
  const tient = new Set(u.grants.filter((g) => !g.camera_group).map((g) => `${g.action}@${g.tenant}`));
  const form = el("form", { class: "carte large", "aria-label": `Droits de ${u.login}` },
    el("table", { class: "grille" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Commune" }), Object.values(LIBELLES_DROITS).map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", {}, communes.map((t) => el("tr", {}, el("th", { scope: "row", text: t }),
        Object.entries(LIBELLES_DROITS).map(([a, libelle]) => el("td", {},
          el("input", { type: "checkbox", name: "droit", value: `${a}@${t}`, checked: tient.has(`${a}@${t}`), "aria-label": `${libelle} sur ${t}` }))))))),
    el("button", { type: "submit", text: "Enregistrer les droits" }),
    el("button", { type: "button", class: "secondaire", text: "Retour", onclick: () => vueUtilisateurs() }));
  soumettre(form, async (d) => {
    const grants = d.getAll("droit").map((v) => { const [action, tenant] = v.split("@"); return { action, tenant }; });
    for (const g of u.grants.filter((g) => g.camera_group)) grants.push(g);
    await api("PUT", `/api/v1/users/${id}/grants`, { grants });
    dire(`Droits de « ${u.login} » enregistrés.`);
  });
  const habilitation = el("form", { class: "carte", "aria-label": `Habilitation de ${u.login}` },
    el("h2", { text: "Habilitation" }),
    ...choix("Type", "habilitation", { "": "Aucune (pas d'accès aux images)", ...HABILITATIONS }, u.habilitation ?? ""),
    ...champ("Référence de l'acte de désignation", { name: "habilitation_ref", value: u.habilitation_ref ?? "" }),
    ...champ("Échéance", { name: "habilitation_expires_on", type: "date", value: u.habilitation_expires_on ?? "" }),
    el("button", { type: "submit", text: "Enregistrer l'habilitation" }));
  soumettre(habilitation, async (d) => {
    const type = d.get("habilitation");
    await api("PATCH", `/api/v1/users/${id}`, type
      ? { habilitation: type, habilitation_ref: d.get("habilitation_ref"), habilitation_expires_on: d.get("habilitation_expires_on") }
      : { habilitation: null, habilitation_ref: null, habilitation_expires_on: null });
    dire(`Habilitation de « ${u.login} » enregistrée.`);
  });
  afficher(`Droits de ${u.display_name}`, form, habilitation);
}

// -- audit -----------------------------------------------------------------------------

async function vueAudit(filtres = {}) {
  const form = el("form", { class: "carte large filtres", "aria-label": "Filtres du journal" },
    el("div", {}, ...champ("Depuis", { name: "since", type: "datetime-local", value: filtres.since ?? "" })),
    el("div", {}, ...champ("Jusqu'à", { name: "until", type: "datetime-local", value: filtres.until ?? "" })),
    el("div", {}, ...champ("Utilisateur", { name: "actor", value: filtres.actor ?? "" })),
    el("div", {}, ...champ("Caméra", { name: "camera", value: filtres.camera ?? "" })),
    el("div", {}, ...champ("Action (préfixe)", { name: "action", value: filtres.action ?? "", placeholder: "auth." })),
    el("div", {}, el("button", { type: "submit", text: "Rechercher" })));
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filtres)) if (v) params.set(k, k === "since" || k === "until" ? new Date(v).toISOString() : v);
  const { entries } = await api("GET", `/api/v1/audit?${params}`);
  soumettre(form, async (d) => vueAudit(Object.fromEntries(d.entries())));
  const table = el("table", {},
    el("caption", { class: "droits", text: `${entries.length} entrée(s), les plus récentes d'abord` }),
    el("thead", {}, el("tr", {}, ["N°", "Date", "Qui", "Commune", "Action", "Objet", "Détail", "Origine"].map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, entries.map((e) => el("tr", {},
      el("td", { text: String(e.seq) }), el("td", { text: new Date(e.at).toLocaleString("fr-FR") }),
      el("td", { text: e.actor }), el("td", { text: e.tenant ?? "—" }), el("td", { text: e.action }),
      el("td", { text: e.target ?? "" }), el("td", { text: Object.keys(e.detail).length ? JSON.stringify(e.detail) : "" }),
      el("td", { text: e.source_ip ?? "" })))));
  afficher("Journal d'audit", form,
    el("p", {}, el("a", { href: `/api/v1/audit.csv?${params}`, download: "journal-audit.csv", text: "Exporter ces entrées (CSV)" })),
    table);
}

// -- my account ------------------------------------------------------------------------

async function vueCompte() {
  const { tokens } = await api("GET", "/api/v1/tokens");
  const hab = moi.habilitation;
  afficher("Mon compte",
    el("section", { class: "carte" },
      el("p", { text: `Identifiant : ${moi.user.login}` }),
      el("p", { text: hab.type ? `Habilitation : ${HABILITATIONS[hab.type]} — ${hab.reference}, jusqu'au ${hab.expires_on} (${hab.status})` : "Aucune habilitation à visionner les images." }),
      el("button", { type: "button", class: "danger", text: "Fermer toutes mes sessions", onclick: async () => { await api("POST", "/api/v1/auth/logout-everywhere"); oublierSession(); dire("Toutes vos sessions sont fermées."); location.hash = "#/connexion"; } })),
    el("h2", { text: "Changer de mot de passe" }), vueMotDePasse(false),
    el("h2", { text: "Jetons d'accès (clients machines)" }),
    el("ul", {}, tokens.map((t) => el("li", { text: `${t.name} — ${t.scopes.join(", ")}${t.revoked_at ? " (révoqué)" : ` — expire le ${new Date(t.expires_at).toLocaleDateString("fr-FR")}`}` }))));
}

// -- routing ---------------------------------------------------------------------------

const VUES = { "#/mur": vueMur, "#/cameras": vueCameras, "#/utilisateurs": vueUtilisateurs, "#/audit": vueAudit, "#/compte": vueCompte,
  "#/relecture": vueRelecture, "#/extraits": vueExtraits, "#/conservations": () => vueConservations(), "#/recherche": vueRecherche,
  "#/analyse": vueAnalyse, "#/alertes": vueAlertes, "#/alertes/historique": vueHistoriqueAlertes, "#/tickets": vueTickets,
  "#/sante": vueSante };

VUES["#/rapports"] = vueRapports;
VUES["#/maintenances"] = vueMaintenances;

// A view still loading when the user moves on may render after the newer one: the
// route that finishes out of order shows the current view again.
let derniere = 0;
let terminee = 0;

async function route() {
  if (!moi) return vueConnexion();
  const generation = ++derniere;
  const base = location.hash.split("?")[0];
  const vue = VUES[base] ?? vueCameras;
  for (const a of document.querySelectorAll("nav a")) {
    const href = a.getAttribute("href");
    if (href === base || base.startsWith(`${href}/`)) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  try { await vue(); } catch (e) { if (generation === derniere) dire(e.message, true); }
  if (generation < terminee) route();
  terminee = Math.max(terminee, generation);
}

document.getElementById("deconnexion").addEventListener("click", async () => {
  try { await api("POST", "/api/v1/auth/logout"); } catch { /* already signed out */ }
  oublierSession();
  dire("Vous êtes déconnecté.");
  location.hash = "#/connexion";
  vueConnexion();
});
window.addEventListener("hashchange", () => { quitterEcran(); if (moi) route(); });

try { await apresConnexion(); } catch { vueConnexion(); }
