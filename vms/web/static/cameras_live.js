// Live controls of the "Caméras" screen: the per-camera live switches (EVD-15), sharing
// a camera's live with a named recipient or as a public link (CSD-08, CONF-01), and the
// list of live links with their revocation.
//
// The server decides: these controls only mirror its rules (a share needs the export
// right and the transmission switch on; a public link needs admin_cameras and
// [live] public_links) and show its French refusals as they come.

import { api, copierTexte, dire, el, moi } from "./lib.js";

export const SERVICES = {
  police_nationale: "Police nationale", gendarmerie: "Gendarmerie",
  police_municipale: "Police municipale", pompiers: "Sapeurs-pompiers", autre: "Autre",
};
const TYPES = { partage: "Partage nominatif", public: "Lien public" };
const FLUX = { sub: "Secondaire (léger)", main: "Principal (pleine qualité)" };
const DUREE_MAX_HEURES = 168; // LinkBody's bound; the server may set a lower one
const DUREE_DEFAUT_HEURES = 2;

const date = (iso) => new Date(iso).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "short" });
const oui = (b, f = false) => (b ? (f ? "autorisée" : "autorisé") : (f ? "non autorisée" : "désactivé"));
let suivant = 0; // unique ids for the dialogs' fields

// -- per-camera switches and share button --------------------------------------------

/** The live controls of one camera for the caller, or null when it has none there.
 *  ``apresPartage`` runs once a link was created (to refresh the list). */
export function controlesDirect(camera, { apresPartage = () => {} } = {}) {
  const admin = camera.rights.includes("admin_cameras");
  const types = Object.keys(TYPES).filter((t) => camera.rights.includes(t === "partage" ? "export" : "admin_cameras"));
  if (!admin && !types.length) return null;
  const etat = el("span", { class: "etat-direct" });
  const bouton = types.length ? el("button", {
    type: "button", class: "secondaire", text: "Partager le direct",
    "aria-label": `Partager le direct — ${camera.name}`,
    onclick: () => ouvrirPartage(camera, types, apresPartage),
  }) : null;
  const bascules = {};

  const maj = () => {
    const { enabled, share_enabled } = camera.live;
    etat.textContent = `Direct ${oui(enabled)} · transmission ${oui(share_enabled, true)}`
      + (share_enabled && !enabled ? " (sans effet tant que le direct est désactivé)" : "");
    if (bascules.enabled) bascules.enabled.checked = enabled;
    if (bascules.share_enabled) bascules.share_enabled.checked = share_enabled;
    if (bouton) {
      const possible = enabled && share_enabled;
      bouton.disabled = !possible;
      bouton.title = possible ? "" : "Un administrateur doit d'abord autoriser le direct et sa transmission.";
    }
  };

  const bascule = (cle, libelle, question) => {
    const id = `direct-${cle}-${++suivant}`;
    const input = el("input", {
      type: "checkbox", role: "switch", id, "aria-label": `${libelle} (${camera.name})`,
      onchange: async () => {
        const voulu = input.checked;
        input.checked = !voulu; // until the server has answered
        if (!confirm(question(voulu))) return;
        input.disabled = true;
        try {
          const r = await api("PATCH", `/api/v1/cameras/${encodeURIComponent(camera.id)}/live`,
            { [cle === "enabled" ? "live_enabled" : "share_enabled"]: voulu });
          camera.live.enabled = r.live_enabled;
          camera.live.share_enabled = r.share_enabled;
          maj();
          dire(`« ${camera.name} » : direct ${oui(r.live_enabled)}, transmission aux forces de l'ordre ${oui(r.share_enabled, true)}.`);
        } catch (e) {
          dire(e.message, true);
        } finally {
          input.disabled = false;
        }
      },
    });
    bascules[cle] = input;
    return el("label", { class: "bascule", for: id }, input, el("span", { text: libelle }));
  };

  const nom = `« ${camera.name} »`;
  const controles = el("div", { class: "direct-controles", role: "group", "aria-label": `Direct de ${camera.name}` },
    admin ? bascule("enabled", "Direct autorisé", (v) => (v
      ? `Autoriser le direct de la caméra ${nom} ?`
      : `Désactiver le direct de la caméra ${nom} ? Plus personne ne pourra l'ouvrir, ni au centre ni par un lien ; les directs en cours seront coupés.`)) : null,
    admin ? bascule("share_enabled", "Transmission aux forces de l'ordre autorisée", (v) => (v
      ? `Autoriser la transmission du direct de la caméra ${nom} hors du centre (liens de partage) ?`
      : `Retirer l'autorisation de transmission du direct de la caméra ${nom} ? Les liens existants ne permettront plus d'ouvrir le direct ; les consultations en cours par lien seront coupées.`)) : null,
    etat, bouton);
  maj();
  return controles;
}

// -- share dialog ---------------------------------------------------------------------

function ouvrirPartage(camera, types, apresPartage) {
  const n = ++suivant;
  const id = (nom) => `partage-${nom}-${n}`;
  const titre = el("h2", { id: id("titre"), text: `Partager le direct — ${camera.name}` });
  const erreur = el("p", { class: "annonce erreur", role: "alert" });
  const dialogue = el("dialog", { class: "dialogue-partage", "aria-labelledby": id("titre") });
  // closed (button or Escape), the dialog leaves the page, and the token with it
  const fermer = () => { dialogue.close(); dialogue.remove(); };
  dialogue.addEventListener("close", () => dialogue.remove());

  const ligne = (libelle, nom, controle) => [el("label", { for: id(nom), text: libelle }), controle];
  const select = (nom, options, valeur, extra = {}) => el("select", { id: id(nom), name: nom, ...extra },
    Object.entries(options).map(([v, t]) => el("option", { value: v, selected: v === valeur }, t)));
  const flux = camera.live.streams?.length
    ? Object.fromEntries(camera.live.streams.map((s) => [s, FLUX[s] ?? s])) : FLUX;
  const fluxDefaut = "sub" in flux ? "sub" : Object.keys(flux)[0];

  const destinataire = el("fieldset", { class: "destinataire" },
    el("legend", { text: "Destinataire" }),
    ...ligne("Nom et grade", "recipient", el("input", { id: id("recipient"), name: "recipient", maxlength: "200", required: true, autocomplete: "off" })),
    ...ligne("Service", "service", select("service", { "": "— Choisir —", ...SERVICES }, "", { required: true })));
  const type = types.length > 1
    ? ligne("Type de lien", "kind", select("kind", Object.fromEntries(types.map((t) => [t, TYPES[t]])), types[0]))
    : [el("input", { type: "hidden", name: "kind", value: types[0] }), el("p", { class: "droits", text: TYPES[types[0]] })];
  const form = el("form", { class: "formulaire-partage" },
    ...type,
    destinataire,
    ...ligne("Motif", "motif", el("textarea", { id: id("motif"), name: "motif", minlength: "3", maxlength: "500", required: true, rows: "2" })),
    ...ligne("Durée de validité (heures)", "hours", el("input", {
      id: id("hours"), name: "hours", type: "number", min: "1", max: String(DUREE_MAX_HEURES),
      value: String(DUREE_DEFAUT_HEURES), required: true, "aria-describedby": id("aide-duree"),
    })),
    el("p", { id: id("aide-duree"), class: "droits", text: "La durée maximale est fixée par le serveur ; au-delà, la création est refusée." }),
    ...ligne("Flux transmis", "stream", select("stream", flux, fluxDefaut)),
    erreur,
    el("div", { class: "boutons" },
      el("button", { type: "submit", text: "Créer le lien" }),
      el("button", { type: "button", class: "secondaire", text: "Annuler", onclick: fermer })));

  // a public link has no named recipient
  const choixType = form.elements.namedItem("kind");
  const adapter = () => {
    const public_ = choixType.value === "public";
    destinataire.hidden = public_;
    destinataire.disabled = public_;
  };
  choixType.addEventListener?.("change", adapter);
  adapter();

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    erreur.textContent = "";
    const d = new FormData(form);
    const kind = d.get("kind");
    const corps = {
      kind, stream: d.get("stream"), motif: d.get("motif").trim(), hours: Number(d.get("hours")),
      recipient: kind === "partage" ? d.get("recipient").trim() : "",
      service: kind === "partage" ? d.get("service") : "",
    };
    const envoi = form.querySelector("button[type=submit]");
    envoi.disabled = true;
    try {
      const lien = await api("POST", `/api/v1/cameras/${encodeURIComponent(camera.id)}/live/links`, corps);
      dialogue.replaceChildren(titre, lienCree(camera, lien, fermer));
      dialogue.querySelector("button")?.focus();
      apresPartage();
    } catch (e) {
      erreur.textContent = e.message;
    } finally {
      envoi.disabled = false;
    }
  });

  dialogue.append(titre, form);
  document.body.append(dialogue);
  dialogue.showModal();
}

/** The created link, shown this once: the server keeps only its hash. */
function lienCree(camera, lien, fermer) {
  const url = new URL(lien.url, location.origin).href;
  const champUrl = el("input", { type: "text", readonly: true, value: url, class: "secret", "aria-label": "Lien à transmettre", spellcheck: "false" });
  const message = el("p", { class: "droits", role: "status" });
  const copier = () => copierTexte(url, champUrl, message);
  const pour = lien.kind === "partage"
    ? `Lien de partage du direct de « ${camera.name} » pour ${lien.recipient} (${SERVICES[lien.service] ?? lien.service})`
    : `Lien public du direct de « ${camera.name} »`;
  return el("div", { class: "lien-cree" },
    el("p", { text: `${pour}, valable jusqu'au ${date(lien.expires_at)}.` }),
    el("p", { class: "avertissement", text: "Ce lien ne sera plus jamais affiché : copiez-le maintenant et transmettez-le par un canal sûr. Toute personne qui le détient peut voir le direct jusqu'à son expiration ou sa révocation." }),
    champUrl,
    message,
    el("div", { class: "boutons" },
      el("button", { type: "button", text: "Copier", onclick: copier }),
      el("button", { type: "button", class: "secondaire", text: "Fermer", onclick: fermer })));
}

// -- list of live links ---------------------------------------------------------------

/** The "Liens de direct" section: ``section`` to show, ``charger`` to (re)load it. */
export function sectionLiens(cameras) {
  const noms = new Map(cameras.map((c) => [c.id, c.name]));
  const contenu = el("div", { "aria-live": "polite" });
  const section = el("section", { class: "liens-direct", "aria-labelledby": "titre-liens" },
    el("h2", { id: "titre-liens", text: "Liens de direct" }),
    el("button", { type: "button", class: "secondaire", text: "Actualiser", onclick: () => charger() }),
    contenu);

  const peutRevoquer = (l) => l.created_by === moi.user.login || (moi.rights.admin_cameras ?? []).includes(l.tenant);
  const revoquer = async (l) => {
    const qui = l.kind === "partage" ? `transmis à ${l.recipient}` : "public";
    if (!confirm(`Révoquer le lien ${qui} pour la caméra « ${noms.get(l.camera) ?? l.camera} » ? Il ne permettra plus d'ouvrir le direct ; une consultation en cours sera coupée.`)) return;
    try {
      await api("DELETE", `/api/v1/live/links/${l.id}`);
      dire(`Lien ${qui} révoqué.`);
    } catch (e) {
      dire(e.message, true);
    }
    await charger();
  };

  const cellules = (l) => [
    el("td", { text: noms.get(l.camera) ?? l.camera }),
    el("td", { text: TYPES[l.kind] ?? l.kind }),
    el("td", { text: l.recipient || "—" }),
    el("td", { text: SERVICES[l.service] ?? (l.service || "—") }),
    el("td", { text: l.stream }),
    el("td", { text: l.motif }),
    el("td", { text: l.created_by }),
    el("td", { text: String(l.uses ?? 0) }),
  ];
  const entetes = (...fin) => el("thead", {}, el("tr", {},
    ["Caméra", "Type", "Destinataire", "Service", "Flux", "Motif", "Créé par", "Utilisations", ...fin]
      .map((t) => el("th", { scope: "col", text: t }))));

  async function charger() {
    let links;
    try {
      ({ links } = await api("GET", "/api/v1/live/links"));
    } catch (e) {
      contenu.replaceChildren(el("p", { class: "annonce erreur", text: e.message }));
      return;
    }
    const maintenant = Date.now();
    const actifs = links.filter((l) => !l.revoked_at && new Date(l.expires_at).getTime() > maintenant);
    const finis = links.filter((l) => !actifs.includes(l));
    const tableActifs = actifs.length
      ? el("table", { "aria-label": "Liens de direct actifs" },
        el("caption", { class: "droits", text: `${actifs.length} lien(s) actif(s)` }),
        entetes("Expire le", "Action"),
        el("tbody", {}, actifs.map((l) => el("tr", { "data-lien": String(l.id) },
          ...cellules(l),
          el("td", { text: date(l.expires_at) }),
          el("td", {}, peutRevoquer(l)
            ? el("button", { type: "button", class: "danger", text: "Révoquer", "aria-label": `Révoquer le lien de ${l.recipient || "diffusion publique"}`, onclick: () => revoquer(l) })
            : null)))))
      : el("p", { text: "Aucun lien de direct actif." });
    const tableFinis = finis.length
      ? el("details", {},
        el("summary", { text: `Liens terminés ces 7 derniers jours (${finis.length})` }),
        el("table", { "aria-label": "Liens de direct terminés" },
          entetes("Fin"),
          el("tbody", {}, finis.map((l) => el("tr", { "data-lien": String(l.id) },
            ...cellules(l),
            el("td", { text: l.revoked_at ? `Révoqué le ${date(l.revoked_at)} par ${l.revoked_by}` : `Expiré le ${date(l.expires_at)}` }))))))
      : null;
    contenu.replaceChildren(...[tableActifs, tableFinis].filter(Boolean));
  }

  return { section, charger };
}
