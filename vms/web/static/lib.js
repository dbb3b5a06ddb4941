// Shared by the console's screens: the JSON API client, the session state (profile
// and CSRF token), DOM helpers, announcements and the French labels.

const main = document.getElementById("contenu");
const annonce = document.getElementById("annonce");

// -- session ---------------------------------------------------------------------------

let csrf = null;
// The signed-in user's profile (GET /api/v1/me), null when signed out. Importers read
// the live binding; only setMoi changes it.
export let moi = null;

/** The CSRF token that state-changing requests must echo (null when signed out). */
export function csrfToken() { return csrf; }
export function setCsrf(token) { csrf = token; }
export function setMoi(profil) { moi = profil; }
export function oublierSession() { moi = null; csrf = null; }

export const peut = (droit) => Boolean(moi?.rights?.[droit]?.length);

// -- API -------------------------------------------------------------------------------

export class ErreurApi extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(method, path, body, type = "application/json") {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = type;
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  const r = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : (type === "application/json" ? JSON.stringify(body) : body),
  });
  if (r.status === 204) return null;
  const data = r.headers.get("Content-Type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const message = data?.erreur?.message ?? `Erreur ${r.status}`;
    if (r.status === 401 && !path.startsWith("/api/v1/auth/")) { oublierSession(); location.hash = "#/connexion"; }
    throw new ErreurApi(r.status, message);
  }
  return data;
}

// -- DOM helpers -----------------------------------------------------------------------

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function champ(label, attrs) {
  const id = attrs.id ?? `c-${attrs.name}`;
  return [el("label", { for: id, text: label }), el(attrs.tag ?? "input", { ...attrs, id, tag: null })];
}

export function choix(label, name, options, valeur, extra = {}) {
  const id = `c-${name}`;
  const select = el("select", { id, name, ...extra },
    Object.entries(options).map(([v, t]) => el("option", { value: v, selected: v === (valeur ?? "") }, t)));
  return [el("label", { for: id, text: label }), select];
}

/** Announce a message in the status area (read by screen readers). */
export function dire(message, erreur = false) {
  annonce.textContent = message;
  annonce.classList.toggle("erreur", erreur);
}

// -- screens ---------------------------------------------------------------------------

let sortie = null;

/** Register what to do when the current screen goes away (stop players, listeners). */
export function enQuittant(action) { sortie = action; }

/** Run the current screen's exit action, once. */
export function quitterEcran() {
  const action = sortie;
  sortie = null;
  if (action) action();
}

/** The parameters of the current view's address (``#/relecture?camera=a1&from=…``). */
export function parametresVue() {
  return new URLSearchParams(location.hash.split("?")[1] ?? "");
}

/** Replace the current screen. */
export function afficher(titre, ...contenu) {
  quitterEcran();
  main.replaceChildren(el("h1", { text: titre }), ...contenu.filter((c) => c !== null));
  document.title = `${titre} — Centre de supervision`;
  main.focus();
}

export function soumettre(form, action) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    dire("");
    try { await action(new FormData(form)); } catch (e) { dire(e.message, true); }
  });
  return form;
}

// -- labels ----------------------------------------------------------------------------

export const ROLES = {
  operator: "Opérateur", supervisor: "Superviseur", admin: "Administrateur",
  auditor: "Auditeur", commune_viewer: "Agent communal", requester: "Requérant",
};
export const ETATS = { enregistrement: "Enregistrement", interrompu: "Interrompu", hors_ligne: "Hors ligne" };

/** Copies `texte` to the clipboard, or selects `champ` for Ctrl+C where the browser
 * refuses; says which in `message`. */
export async function copierTexte(texte, champ, message) {
  try {
    await navigator.clipboard.writeText(texte);
    message.textContent = "Lien copié dans le presse-papiers.";
  } catch {
    champ.select();
    message.textContent = document.execCommand("copy")
      ? "Lien copié dans le presse-papiers."
      : "Copie impossible : le lien est sélectionné, copiez-le avec Ctrl+C.";
  }
}
