// Alert desk ("Alertes", "Tickets"; ALR-01..03, CSD-10): the queue of open alerts kept
// live by the WebSocket /api/v1/alerts/stream (reconnected with a backoff, a sound on a
// new alert that can be muted), the alert card (camera, commune, position, snapshot with
// its boxes, clip, live view, procedure, referents), the actions the current state
// allows, the closed alerts' history with filters, and the intervention tickets board.
//
// The server decides every transition: the buttons only mirror its state machine
// (docs/design/alerts.md) and its French refusals are shown beside the form.

import { api, afficher, champ, choix, copierTexte, dire, el, enQuittant, moi, parametresVue, peut } from "./lib.js";

export const ETATS_ALERTE = {
  nouvelle: "Nouvelle", prise_en_compte: "Prise en compte", levee_de_doute: "Levée de doute en cours",
  escaladee: "Escaladée aux forces de l'ordre", cloturee: "Clôturée",
};
const TYPES = {
  intrusion: "Intrusion dans une zone", personne_au_sol: "Personne au sol", objet_abandonne: "Objet abandonné",
  contresens: "Circulation à contresens", densite: "Densité excessive", mouvement_foule: "Mouvement de foule",
  arme: "Arme détectée", depart_de_feu: "Départ de feu", technique: "Défaut technique",
  flux_interrompu: "Flux interrompu", externe: "Alarme externe", manuelle: "Alerte manuelle",
};
const SOURCES = { analytique: "Analyse vidéo", technique: "Technique", externe: "Externe", manuelle: "Manuelle" };
const QUALIFICATIONS = {
  incident_reel: "Incident réel", fausse_alerte: "Fausse alerte", test: "Test", technique: "Défaut technique",
};
const SERVICES = {
  police_nationale: "Police nationale", gendarmerie: "Gendarmerie nationale",
  police_municipale: "Police municipale", pompiers: "Sapeurs-pompiers", samu: "SAMU",
};
// the live links know no "samu" service (vms/web/api/links.py)
const SERVICE_LIEN = { samu: "autre" };
const ACTIONS = {
  acknowledge: "Prendre en compte", assign: "Affecter", start: "Commencer la levée de doute",
  escalate: "Escalader", close: "Clôturer", reopen: "Rouvrir",
};
const HISTORIQUE = {
  create: "Création", acknowledge: "Prise en compte", assign: "Affectation", start: "Levée de doute commencée",
  escalate: "Escalade aux forces de l'ordre", close: "Clôture", reopen: "Réouverture",
  overdue: "Délai dépassé : escalade automatique",
};
// what each state allows (docs/design/alerts.md); the server refuses the rest in French
const POSSIBLES = {
  nouvelle: ["acknowledge", "assign"],
  prise_en_compte: ["assign", "start", "escalate", "close"],
  levee_de_doute: ["assign", "escalate", "close"],
  escaladee: ["assign", "close"],
  cloturee: ["reopen"],
};
const ETATS_TICKET = { ouvert: "Ouvert", affecte: "Affecté", sur_site: "Sur site", resolu: "Résolu", clos: "Clos" };
const ACTIONS_TICKET = { assign: "Affecter", on_site: "Sur site", resolve: "Résoudre", close: "Clore" };
const POSSIBLES_TICKET = {
  ouvert: ["assign", "on_site", "resolve"], affecte: ["assign", "on_site", "resolve"],
  sur_site: ["resolve"], resolu: ["close"], clos: [],
};
const CLE_MUET = "vms.alertes.muet";
const DELAI_MAX_MS = 30_000;
const MAX_LISTE = 500; // the API's bound (MAX_ALERTS)

let suivant = 0; // unique ids for the forms' fields
const nouvelId = (nom) => `al-${nom}-${++suivant}`;

// -- formatting --------------------------------------------------------------------------

const dateHeure = (iso) => (iso ? new Date(iso).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "medium" }) : "—");
const heure = (iso) => new Date(iso).toLocaleTimeString("fr-FR");
const deux = (n) => String(n).padStart(2, "0");

/** A duration in French, to the second under an hour ("3 min 05 s", "1 h 12 min"). */
/**
 * Listen to the alerts pushed by /api/v1/alerts/stream outside the alerts view (the
 * wall's automation): ``surAlerte(alert)`` for each, reconnecting with a backoff.
 * Returns the function that closes it.
 */
export function ecouterAlertes(surAlerte) {
  let ws = null;
  let delai = 1000;
  let reprise = null;
  let fini = false;
  const connecter = () => {
    if (fini) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    try { ws = new WebSocket(`${scheme}//${location.host}/api/v1/alerts/stream`); } catch { plusTard(); return; }
    const moi = ws;
    ws.addEventListener("open", () => { delai = 1000; });
    ws.addEventListener("message", (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type === "alert" && msg.alert) surAlerte(msg.alert);
    });
    ws.addEventListener("close", () => { if (ws === moi) plusTard(); });
  };
  const plusTard = () => {
    if (fini) return;
    clearTimeout(reprise);
    reprise = setTimeout(connecter, delai);
    delai = Math.min(delai * 2, DELAI_MAX_MS);
  };
  connecter();
  return () => { fini = true; clearTimeout(reprise); if (ws) ws.close(); };
}

export function duree(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${deux(s % 60)} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${deux(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 86_400)} j ${Math.floor((s % 86_400) / 3600)} h`;
}

const typeDe = (a) => TYPES[a.kind] ?? a.kind;
const enRetard = (a, maintenant = Date.now()) => Boolean(a.overdue)
  || (a.state === "nouvelle" && new Date(a.ack_due_at).getTime() < maintenant);

/** The acknowledgement deadline of an alert as words, and whether it is missed. */
function echeance(a, maintenant = Date.now()) {
  const reste = new Date(a.ack_due_at).getTime() - maintenant;
  if (a.state === "nouvelle") {
    return reste >= 0
      ? { texte: `À prendre en compte sous ${duree(reste)}`, retard: Boolean(a.overdue) }
      : { texte: `Délai dépassé de ${duree(-reste)}`, retard: true };
  }
  if (a.late_s) return { texte: `Prise en compte avec ${duree(a.late_s * 1000)} de retard`, retard: true };
  return { texte: a.acknowledged_by ? `Prise en compte par ${a.acknowledged_by}` : "", retard: false };
}

function badgePriorite(p) {
  return el("span", { class: `priorite priorite-${p}`, title: `Priorité ${p} (1 = la plus haute)`, text: `P${p}` });
}

const badgeEtat = (etat) => el("span", { class: `etat-alerte etat-alerte-${etat}`, text: ETATS_ALERTE[etat] ?? etat });

/** Inline styles through the CSSOM (the console's CSP refuses style attributes). */
function avecStyle(noeud, styles) { Object.assign(noeud.style, styles); return noeud; }

/** A snapshot with the boxes [x0, y0, x1, y1] (normalised) drawn over it. */
function imageAvecBoites(src, boxes, alt, libelle) {
  const pc = (v) => `${Math.round(v * 10_000) / 100}%`;
  const boites = (Array.isArray(boxes) ? boxes : []).filter((b) => Array.isArray(b) && b.length === 4)
    .map(([x0, y0, x1, y1]) => avecStyle(el("span", { class: "boite" }, libelle ? el("span", { class: "boite-libelle", text: libelle }) : null),
      { left: pc(x0), top: pc(y0), width: pc(x1 - x0), height: pc(y1 - y0) }));
  return el("div", { class: "fiche-image" }, el("img", { src, alt }), boites);
}

/** A small form whose API refusals are written beside it (role=alert). */
function formulaire(libelle, contenu, bouton, envoi, { annuler } = {}) {
  const erreur = el("p", { class: "annonce erreur erreur-formulaire", role: "alert" });
  const valider = el("button", { type: "submit", text: bouton });
  const form = el("form", { class: "formulaire-alerte", "aria-label": libelle }, ...contenu, erreur,
    el("div", { class: "boutons" }, valider,
      annuler ? el("button", { type: "button", class: "secondaire", text: "Annuler", onclick: annuler }) : null));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    erreur.textContent = "";
    valider.disabled = true;
    try { await envoi(new FormData(form), form); } catch (e) { erreur.textContent = e.message; } finally { valider.disabled = false; }
  });
  return form;
}

/** A text field with its label, under a unique id. */
function saisie(libelle, attrs) {
  const id = nouvelId(attrs.name);
  return [el("label", { for: id, text: libelle }), el(attrs.tag ?? "input", { ...attrs, id, tag: null })];
}

function liste(libelle, name, options, attrs = {}) {
  const id = nouvelId(name);
  return [el("label", { for: id, text: libelle }),
    el("select", { id, name, ...attrs }, Object.entries(options).map(([v, t]) => el("option", { value: v }, t)))];
}

/** The copyable live link created with an escalation (shown this once). */
function lienCree(lien) {
  const url = new URL(lien.url, location.origin).href;
  const champUrl = el("input", { type: "text", readonly: true, value: url, class: "secret", "aria-label": "Lien de partage du direct", spellcheck: "false" });
  const message = el("p", { class: "droits", role: "status" });
  const copier = () => copierTexte(url, champUrl, message);
  return el("div", { class: "lien-cree", "data-lien": String(lien.id) },
    el("p", { text: `Lien de partage du direct pour ${lien.recipient || "le destinataire"}, valable jusqu'au ${dateHeure(lien.expires_at)}.` }),
    el("p", { class: "avertissement", text: "Ce lien ne sera plus affiché : copiez-le maintenant et transmettez-le par un canal sûr." }),
    champUrl, message,
    el("button", { type: "button", text: "Copier le lien", onclick: copier }));
}

// -- sound ---------------------------------------------------------------------------------

/** Two short tones through WebAudio; the context starts on the first user gesture. */
class Sonnerie {
  constructor() {
    this.muet = localStorage.getItem(CLE_MUET) === "1";
    this.contexte = null;
    this.debloquer = () => { this.contexte ??= this.creer(); this.contexte?.resume?.().catch(() => {}); };
    document.addEventListener("pointerdown", this.debloquer);
    document.addEventListener("keydown", this.debloquer);
  }

  creer() {
    const Contexte = window.AudioContext ?? window.webkitAudioContext;
    try { return Contexte ? new Contexte() : null; } catch { return null; }
  }

  basculer() {
    this.muet = !this.muet;
    localStorage.setItem(CLE_MUET, this.muet ? "1" : "0");
    return this.muet;
  }

  jouer(urgente = false) {
    if (this.muet) return;
    this.contexte ??= this.creer();
    const c = this.contexte;
    if (!c) return;
    c.resume?.().catch(() => {});
    const t0 = c.currentTime + 0.02;
    (urgente ? [880, 660, 880] : [880, 660]).forEach((f, k) => {
      const osc = c.createOscillator();
      const gain = c.createGain();
      osc.type = "sine";
      osc.frequency.value = f;
      const t = t0 + k * 0.22;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.2);
      osc.connect(gain).connect(c.destination);
      osc.start(t);
      osc.stop(t + 0.21);
    });
  }

  fermer() {
    document.removeEventListener("pointerdown", this.debloquer);
    document.removeEventListener("keydown", this.debloquer);
    this.contexte?.close?.().catch(() => {});
  }
}

/** The detail of a history entry in words (keys written by vms/domain/alerts.py). */
function detailHistorique(d) {
  if (!d || typeof d !== "object") return "";
  return Object.entries(d).map(([k, v]) => {
    if (k === "retard_s") return v ? `retard de ${duree(v * 1000)}` : "dans le délai";
    if (k === "affecte_a") return `affectée à ${v}`;
    if (k === "qualification") return `qualification : ${QUALIFICATIONS[v] ?? v}`;
    if (k === "motif") return `motif : ${v}`;
    if (k === "appel" && v) {
      return `${SERVICES[v.service] ?? v.service}, référence ${v.reference}${v.share_link_id ? `, lien de partage n° ${v.share_link_id}` : ""}`;
    }
    return `${k} : ${typeof v === "object" ? JSON.stringify(v) : v}`;
  }).join(" ; ");
}

// -- the alert card ------------------------------------------------------------------------

/** The card of one alert with its actions; ``apres(alerte)`` runs after each action. */
class Fiche {
  constructor(zone, { apres = () => {}, liens = new Map() } = {}) {
    this.zone = zone;
    this.apres = apres;
    this.liens = liens; // alert id -> the link created with its escalation (shown once)
    this.alerte = null;
    this.formulaireOuvert = false;
  }

  /** Load and show alert ``id``; ``fond``: a refresh nobody asked for, which does not
   *  wipe a form the operator opened meanwhile (a notice offers to refresh instead). */
  async ouvrir(id, { fond = false } = {}) {
    let a;
    try { a = await api("GET", `/api/v1/alerts/${id}`); } catch (e) {
      if (fond) return null;
      this.alerte = null;
      this.zone.replaceChildren(el("p", { class: "annonce erreur", text: e.message }));
      return null;
    }
    if (fond && (this.formulaireOuvert || this.alerte?.id !== id)) {
      if (this.alerte?.id === id) this.avertir(a);
      return a;
    }
    this.montrer(a);
    return a;
  }

  /** Whether a pushed summary says something the card does not show yet. */
  differe(a) {
    const c = this.alerte;
    const valeur = (x, k) => (k.endsWith("_at") && x[k] ? Date.parse(x[k]) : x[k] ?? null);
    return !c || c.id !== a.id
      || ["state", "assigned_to", "overdue", "priority", "acknowledged_by", "closed_at", "qualification", "ack_due_at"]
        .some((k) => valeur(c, k) !== valeur(a, k));
  }

  avertir(a) {
    const fiche = this.zone.querySelector(".fiche");
    if (!fiche || fiche.querySelector(".fiche-modifiee")) return;
    fiche.prepend(el("p", { class: "annonce fiche-modifiee", role: "status" },
      `Cette alerte a été modifiée (${ETATS_ALERTE[a.state] ?? a.state}). `,
      el("button", { type: "button", class: "secondaire", text: "Actualiser la fiche", onclick: () => this.ouvrir(a.id) })));
  }

  montrer(a) {
    this.alerte = a;
    this.formulaireOuvert = false;
    const titre = nouvelId("titre");
    const ligne = (terme, ...valeur) => [el("dt", { text: terme }), el("dd", {}, ...valeur)];
    const cam = a.camera;
    const position = cam && cam.latitude !== null && cam.latitude !== undefined && cam.longitude !== null && cam.longitude !== undefined
      ? [`${cam.latitude.toFixed(5)}, ${cam.longitude.toFixed(5)} `,
        el("a", {
          href: `https://www.openstreetmap.org/?mlat=${cam.latitude}&mlon=${cam.longitude}#map=18/${cam.latitude}/${cam.longitude}`,
          target: "_blank", rel: "noopener noreferrer", text: "Voir sur la carte",
        })]
      : ["Position inconnue"];
    const e = echeance(a);
    const d = a.detail ?? {};
    const objet = d.class || d.cls
      ? `${d.class ?? d.cls}${typeof d.confidence === "number" ? ` — confiance ${Math.round(d.confidence * 100)} %` : ""}`
      : null;
    const infos = el("dl", { class: "fiche-infos" },
      ...ligne("État", badgeEtat(a.state)),
      ...ligne("Type", `${typeDe(a)} (${SOURCES[a.source] ?? a.source})`),
      ...ligne("Commune", a.tenant_name ?? a.tenant_id),
      ...ligne("Caméra", cam?.name ?? a.camera_name ?? a.camera_id ?? "—"),
      ...ligne("Position", ...position),
      ...ligne("Déclenchée", `${dateHeure(a.raised_at)} (il y a ${duree(Date.now() - new Date(a.raised_at).getTime())})`),
      ...ligne("Échéance de prise en compte", el("span", {
        class: e.retard ? "texte-retard" : null,
        text: `${dateHeure(a.ack_due_at)}${e.texte && (a.state === "nouvelle" || a.late_s) ? ` — ${e.texte}` : ""}`,
      })),
      ...(objet ? ligne("Objet détecté", objet) : []),
      ...(d.model ? ligne("Modèle", d.model) : []),
      ...(d.description ? ligne("Description", d.description) : []),
      ...(a.assigned_to ? ligne("Affectée à", a.assigned_to) : []),
      ...(a.acknowledged_by ? ligne("Prise en compte par", a.acknowledged_by) : []),
      ...(a.closed_at ? ligne("Clôturée", `${dateHeure(a.closed_at)} — ${QUALIFICATIONS[a.qualification] ?? a.qualification ?? ""}`) : []),
      ...(a.report ? ligne("Compte rendu", a.report) : []));

    const image = a.snapshot
      ? imageAvecBoites(a.snapshot, d.boxes, `Image de l'alerte n° ${a.id} : ${a.title}`, d.class ?? d.cls ?? null)
      : null;
    const liensVideo = el("p", { class: "fiche-liens" },
      a.clip ? el("a", {
        class: "lien-relecture",
        href: `#/relecture?${new URLSearchParams({ camera: a.clip.camera_id, from: a.clip.from, to: a.clip.to })}`,
        text: `Relire l'extrait (de ${heure(a.clip.from)} à ${heure(a.clip.to)})`,
      }) : null,
      cam && (cam.live_enabled ?? true) && peut("view_live") ? el("button", {
        type: "button", class: "secondaire", text: "Voir le direct sur le mur",
        onclick: () => { location.hash = `#/mur?${new URLSearchParams({ camera: cam.id })}`; },
      }) : null);

    this.zone.replaceChildren(el("article", { class: "fiche", "aria-labelledby": titre, "data-alerte": String(a.id), "data-etat": a.state },
      el("h2", { id: titre }, badgePriorite(a.priority), ` Alerte n° ${a.id} — ${a.title}`),
      infos, image, liensVideo,
      this.liens.get(a.id) ?? null,
      this.sectionActions(a),
      this.sectionProcedure(a),
      this.sectionReferents(a),
      this.sectionAppels(a),
      this.sectionHistorique(a)));
  }

  sectionProcedure(a) {
    const p = a.procedure;
    if (!p) return null;
    const cle = `vms.alertes.liste.${a.id}`;
    let cochees = [];
    try { cochees = JSON.parse(sessionStorage.getItem(cle) ?? "[]"); } catch { cochees = []; }
    const items = (p.checklist ?? []).map((texte, k) => {
      const id = nouvelId("etape");
      const c = el("input", {
        type: "checkbox", id, checked: cochees.includes(k),
        onchange: () => {
          const s = new Set(cochees);
          if (c.checked) s.add(k); else s.delete(k);
          cochees = [...s];
          sessionStorage.setItem(cle, JSON.stringify(cochees));
        },
      });
      return el("li", {}, c, el("label", { for: id, class: "etape", text: texte }));
    });
    return el("section", { class: "fiche-procedure" },
      el("h3", { text: `Procédure : ${p.title}` }),
      p.instructions ? el("p", { text: p.instructions }) : null,
      items.length ? el("ul", { class: "liste-controle", "aria-label": "Liste de contrôle (cochée sur ce poste seulement)" }, items) : null);
  }

  sectionReferents(a) {
    const refs = a.referents ?? [];
    return el("section", { class: "fiche-referents" },
      el("h3", { text: "Référents de la commune" }),
      refs.length ? el("ul", {}, refs.map((r) => el("li", {},
        el("strong", { text: r.name ?? "" }), r.role ? ` — ${r.role}` : "",
        r.phone ? [" — ", el("a", { href: `tel:${r.phone.replace(/\s+/g, "")}`, text: r.phone })] : null,
        r.email ? [" — ", el("a", { href: `mailto:${r.email}`, text: r.email })] : null)))
        : el("p", { class: "droits", text: "Aucun référent renseigné." }));
  }

  sectionAppels(a) {
    const appels = a.forces_calls ?? [];
    if (!appels.length) return null;
    return el("section", { class: "fiche-appels" },
      el("h3", { text: "Appels aux forces de l'ordre et aux secours" }),
      el("ul", {}, appels.map((c) => el("li", {
        text: `${dateHeure(c.called_at)} — ${SERVICES[c.service] ?? c.service}, référence ${c.reference || "—"}, par ${c.by}`
          + `${c.share_link_id ? ` (lien de partage n° ${c.share_link_id})` : ""}`,
      }))));
  }

  sectionHistorique(a) {
    const h = a.history ?? [];
    return el("section", { class: "fiche-historique" },
      el("h3", { text: "Historique" }),
      h.length ? el("ol", { class: "historique" }, h.map((x) => {
        const precision = detailHistorique(x.detail);
        return el("li", { "data-action": x.action },
          el("span", { class: "historique-date", text: dateHeure(x.at) }), " ",
          el("strong", { text: HISTORIQUE[x.action] ?? x.action }),
          ` par ${x.actor}`,
          x.from_state ? ` (${ETATS_ALERTE[x.from_state] ?? x.from_state} → ${ETATS_ALERTE[x.to_state] ?? x.to_state})` : ` (${ETATS_ALERTE[x.to_state] ?? x.to_state})`,
          precision ? el("span", { class: "droits", text: ` — ${precision}` }) : null);
      })) : el("p", { class: "droits", text: "Aucune action." }));
  }

  sectionActions(a) {
    const zoneForm = el("div", { class: "zone-formulaire" });
    const erreur = el("p", { class: "annonce erreur erreur-formulaire", role: "alert" });
    const fermer = () => { zoneForm.replaceChildren(); this.formulaireOuvert = false; };
    const ouvrir = (form) => {
      zoneForm.replaceChildren(form);
      this.formulaireOuvert = true;
      form.querySelector("input, select, textarea")?.focus();
    };
    const agir = async (corps) => {
      const r = await api("POST", `/api/v1/alerts/${a.id}/actions`, corps);
      dire(`Alerte n° ${a.id} : ${(ACTIONS[corps.action] ?? corps.action).toLowerCase()} — ${ETATS_ALERTE[r.state] ?? r.state}.`);
      this.montrer(r);
      this.apres(r);
      return r;
    };
    const direct = (action) => async () => {
      erreur.textContent = "";
      try { await agir({ action }); } catch (e) { erreur.textContent = e.message; }
    };
    const formulaires = {
      assign: () => formulaire("Affecter l'alerte", [
        ...saisie("Identifiant de l'opérateur", { name: "assigned_to", value: a.assigned_to ?? moi?.user?.login ?? "", required: true, autocomplete: "off" }),
      ], "Affecter", (d) => agir({ action: "assign", assigned_to: d.get("assigned_to").trim() }), { annuler: fermer }),
      escalate: () => this.formulaireEscalade(a, agir, fermer),
      close: () => formulaire("Clôturer l'alerte", [
        ...liste("Qualification", "qualification", { "": "— Choisir —", ...QUALIFICATIONS }, { required: true }),
        ...saisie("Compte rendu", { tag: "textarea", name: "report", rows: "4", required: true }),
      ], "Clôturer", (d) => agir({ action: "close", qualification: d.get("qualification"), report: d.get("report").trim() }), { annuler: fermer }),
      reopen: () => formulaire("Rouvrir l'alerte", [
        ...saisie("Motif de la réouverture", { tag: "textarea", name: "reason", rows: "2", required: true }),
      ], "Rouvrir", (d) => agir({ action: "reopen", reason: d.get("reason").trim() }), { annuler: fermer }),
    };
    const boutons = (POSSIBLES[a.state] ?? []).map((action) => el("button", {
      type: "button", class: action === "acknowledge" || action === "reopen" ? "" : "secondaire", "data-action": action,
      text: ACTIONS[action],
      onclick: formulaires[action] ? () => { erreur.textContent = ""; ouvrir(formulaires[action]()); } : direct(action),
    }));
    return el("section", { class: "fiche-actions", "aria-label": "Actions" },
      el("div", { class: "boutons" }, boutons), erreur, zoneForm);
  }

  formulaireEscalade(a, agir, fermer) {
    const cam = a.camera;
    const avecLien = el("input", { type: "checkbox", name: "share", id: nouvelId("partage") });
    const lien = el("fieldset", { class: "partage-escalade", hidden: true, disabled: true },
      el("legend", { text: "Lien de partage du direct" }),
      ...saisie("Nom et grade du destinataire", { name: "recipient", maxlength: "200", required: true, autocomplete: "off" }),
      ...saisie("Motif de la transmission", { tag: "textarea", name: "motif", rows: "2", minlength: "3", maxlength: "500", required: true }),
      ...saisie("Durée de validité (heures)", { name: "hours", type: "number", min: "1", max: "168", value: "2", required: true }));
    lien.querySelector("textarea").value = `Alerte n° ${a.id} — ${a.title}`;
    avecLien.addEventListener("change", () => { lien.hidden = !avecLien.checked; lien.disabled = !avecLien.checked; });
    const contenu = [
      ...liste("Service appelé", "service", { "": "— Choisir —", ...SERVICES }, { required: true }),
      ...saisie("Référence de l'appel", { name: "reference", required: true, autocomplete: "off" }),
      cam ? el("p", { class: "case" }, avecLien, el("label", { for: avecLien.id, text: "Créer un lien de partage du direct de la caméra" })) : null,
      cam ? lien : null,
    ];
    let cree = null; // a link created by a refused attempt is reused, not created twice
    return formulaire("Escalader l'alerte", contenu, "Escalader", async (d) => {
      const service = d.get("service");
      if (cam && avecLien.checked && !cree) {
        cree = await api("POST", `/api/v1/cameras/${encodeURIComponent(cam.id)}/live/links`, {
          kind: "partage", stream: "sub", recipient: d.get("recipient").trim(),
          service: SERVICE_LIEN[service] ?? service, motif: d.get("motif").trim(), hours: Number(d.get("hours")),
        });
        // kept before the escalation: shown even if the escalation itself is refused
        this.liens.set(a.id, lienCree(cree));
      }
      try {
        await agir({
          action: "escalate", service, reference: d.get("reference").trim(),
          share_link_id: avecLien.checked ? cree?.id ?? null : null,
        });
      } catch (e) {
        const affiche = this.liens.get(a.id);
        if (affiche && !affiche.isConnected) this.zone.querySelector(".fiche-actions")?.before(affiche);
        throw e;
      }
    }, { annuler: fermer });
  }
}

// -- "Alertes": the queue ------------------------------------------------------------------

const ongletsAlertes = (courant) => el("nav", { class: "alertes-onglets", "aria-label": "Alertes" },
  el("a", { href: "#/alertes", "aria-current": courant === "file" ? "page" : null, text: "File d'attente" }),
  el("a", { href: "#/alertes/historique", "aria-current": courant === "historique" ? "page" : null, text: "Historique" }));

class Pupitre {
  constructor(cameras = []) {
    this.alertes = new Map();
    this.connues = new Set(); // ids seen at least once (a new one rings)
    this.choisie = null;
    this.parti = false;
    this.ws = null;
    this.delai = 1000;
    this.reprise = null;
    this.sonnerie = new Sonnerie();
    this.liens = new Map();
    this.liste = el("ol", { class: "file-alertes", "aria-label": "Alertes ouvertes" });
    this.compte = el("p", { class: "droits", "aria-live": "polite" });
    this.flux = el("span", { class: "flux-etat", role: "status" });
    this.muet = el("button", {
      type: "button", class: "secondaire bouton-son", text: "Couper le son",
      onclick: () => this.majMuet(this.sonnerie.basculer()),
    });
    this.majMuet(this.sonnerie.muet);
    this.zoneFiche = el("div", { class: "zone-fiche", "aria-live": "polite" },
      el("p", { class: "droits", text: "Choisissez une alerte dans la file pour afficher sa fiche." }));
    this.fiche = new Fiche(this.zoneFiche, { apres: (a) => this.recevoir(a, { local: true }), liens: this.liens });
    this.noeud = el("div", { class: "alertes-ecran" },
      el("section", { class: "alertes-file", "aria-labelledby": "titre-file" },
        el("div", { class: "file-entete" },
          el("h2", { id: "titre-file", text: "File des alertes ouvertes" }), this.muet),
        el("p", { class: "droits" }, "Temps réel : ", this.flux), this.compte, this.liste,
        this.formulaireManuel(cameras.filter((c) => c.rights.includes("handle_alerts")))),
      el("section", { class: "alertes-fiche", "aria-label": "Fiche de l'alerte" }, this.zoneFiche));
    this.horloge = setInterval(() => this.majTemps(), 1000);
  }

  /** « Lever une alerte manuelle » on a camera where one handles alerts. */
  formulaireManuel(cameras) {
    if (!cameras.length) return null;
    const details = el("details", { class: "alerte-manuelle" }, el("summary", { text: "Lever une alerte manuelle" }));
    const form = formulaire("Alerte manuelle", [
      ...liste("Caméra", "camera_id", { "": "— Choisir —", ...Object.fromEntries(cameras.map((c) => [c.id, `${c.name} (${c.tenant_name ?? c.tenant})`])) }, { required: true }),
      ...saisie("Intitulé", { name: "title", maxlength: "200", required: true, autocomplete: "off" }),
      ...saisie("Description", { tag: "textarea", name: "detail", rows: "2", maxlength: "4000" }),
    ], "Lever l'alerte", async (d, f) => {
      const a = await api("POST", "/api/v1/alerts", { camera_id: d.get("camera_id"), title: d.get("title").trim(), detail: d.get("detail").trim() });
      f.reset();
      details.open = false;
      this.recevoir(a, { local: true });
      dire(`Alerte n° ${a.id} levée : « ${a.title} ».`);
      await this.choisir(a.id);
    });
    details.append(form);
    return details;
  }

  majMuet(muet) {
    this.muet.setAttribute("aria-pressed", String(muet));
    this.muet.title = muet ? "Son des nouvelles alertes coupé : appuyer pour le rétablir" : "Couper le son des nouvelles alertes";
  }

  async charger(sonner = false) {
    const { alerts } = await api("GET", `/api/v1/alerts?state=open&limit=${MAX_LISTE}`);
    const avant = new Set(this.connues);
    this.alertes = new Map(alerts.filter((a) => a.state !== "cloturee").map((a) => [a.id, a]));
    const nouvelles = alerts.filter((a) => !avant.has(a.id) && a.state === "nouvelle");
    for (const a of alerts) this.connues.add(a.id);
    this.dessiner();
    if (sonner && nouvelles.length) this.signaler(nouvelles[0], nouvelles.length);
  }

  connecter() {
    if (this.parti) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try { ws = new WebSocket(`${scheme}//${location.host}/api/v1/alerts/stream`); } catch { this.reconnecter(); return; }
    this.ws = ws;
    this.majFlux("connexion");
    let ouvert = false;
    ws.addEventListener("open", () => {
      ouvert = true;
      this.delai = 1000;
      this.majFlux("connecte");
      // what happened while disconnected (or between the first load and now)
      this.charger(true).catch((e) => dire(e.message, true));
    });
    ws.addEventListener("message", (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type === "alert" && msg.alert) this.recevoir(msg.alert);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws || this.parti) return;
      if (ouvert) this.delai = 1000;
      this.reconnecter();
    });
  }

  reconnecter() {
    const delai = this.delai;
    this.delai = Math.min(this.delai * 2, DELAI_MAX_MS);
    this.majFlux("perdu", delai);
    clearTimeout(this.reprise);
    this.reprise = setTimeout(() => this.connecter(), delai);
  }

  majFlux(etat, delai = 0) {
    this.flux.dataset.etat = etat;
    this.flux.textContent = etat === "connecte" ? "connecté"
      : etat === "connexion" ? "connexion…"
        : `connexion perdue, nouvel essai dans ${Math.round(delai / 1000)} s`;
  }

  /** An alert created or changed (pushed, or returned by one's own action). */
  recevoir(a, { local = false } = {}) {
    const connue = this.connues.has(a.id);
    const avant = this.alertes.get(a.id);
    this.connues.add(a.id);
    if (a.state === "cloturee") this.alertes.delete(a.id);
    else this.alertes.set(a.id, { ...(avant ?? {}), ...a });
    this.dessiner();
    if (!local && !connue && a.state === "nouvelle") this.signaler(a, 1);
    else if (!local && avant && !avant.overdue && a.overdue) {
      this.sonnerie.jouer(true);
      dire(`Délai de prise en compte dépassé : alerte n° ${a.id} — ${a.title} (priorité ${a.priority}).`, true);
    }
    if (!local && this.choisie === a.id && this.fiche.differe(a)) {
      if (this.fiche.formulaireOuvert) this.fiche.avertir(a);
      else this.fiche.ouvrir(a.id, { fond: true });
    }
  }

  signaler(a, nombre) {
    this.sonnerie.jouer(a.priority === 1);
    const ou = [a.camera_name, a.tenant_name].filter(Boolean).join(", ");
    dire(nombre > 1
      ? `${nombre} nouvelles alertes, dont « ${a.title} »${ou ? ` (${ou})` : ""}.`
      : `Nouvelle alerte de priorité ${a.priority} : « ${a.title} »${ou ? ` (${ou})` : ""}.`);
  }

  trier() {
    return [...this.alertes.values()].sort((x, y) => (enRetard(y) - enRetard(x)) || (x.priority - y.priority)
      || (new Date(x.raised_at) - new Date(y.raised_at)));
  }

  dessiner() {
    const alertes = this.trier();
    const retard = alertes.filter((a) => enRetard(a)).length;
    this.compte.textContent = alertes.length
      ? `${alertes.length} alerte(s) ouverte(s)${retard ? `, dont ${retard} en retard` : ""}`
      : "Aucune alerte ouverte.";
    this.liste.replaceChildren(...alertes.map((a) => {
      const age = el("span", { class: "alerte-age" });
      const delai = el("span", { class: "alerte-delai" });
      const ligne = el("li", { class: "alerte-ligne", "data-alerte": String(a.id), "data-etat": a.state },
        el("button", {
          type: "button", class: "alerte-choix", "aria-current": this.choisie === a.id ? "true" : null,
          onclick: () => this.choisir(a.id),
        },
        badgePriorite(a.priority),
        el("span", { class: "alerte-titre", text: a.title }),
        el("span", { class: "alerte-lieu", text: [a.camera_name ?? a.camera_id, a.tenant_name ?? a.tenant_id].filter(Boolean).join(" — ") }),
        el("span", { class: "alerte-pied" }, badgeEtat(a.state), age, delai,
          a.assigned_to ? el("span", { class: "droits", text: `affectée à ${a.assigned_to}` }) : null)));
      ligne.alerte = a;
      ligne.temps = { age, delai };
      return ligne;
    }));
    this.majTemps();
  }

  majTemps() {
    const maintenant = Date.now();
    for (const ligne of this.liste.children) {
      const a = ligne.alerte;
      const e = echeance(a, maintenant);
      ligne.temps.age.textContent = `il y a ${duree(maintenant - new Date(a.raised_at).getTime())}`;
      ligne.temps.delai.textContent = e.texte;
      ligne.classList.toggle("en-retard", enRetard(a, maintenant));
    }
  }

  async choisir(id) {
    this.choisie = id;
    for (const b of this.liste.querySelectorAll(".alerte-choix")) {
      if (b.parentElement.dataset.alerte === String(id)) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
    history.replaceState(null, "", `#/alertes?${new URLSearchParams({ alerte: String(id) })}`);
    await this.fiche.ouvrir(id);
  }

  quitter() {
    this.parti = true;
    clearInterval(this.horloge);
    clearTimeout(this.reprise);
    this.ws?.close();
    this.sonnerie.fermer();
  }
}

export async function vueAlertes() {
  const { cameras } = await api("GET", "/api/v1/cameras").catch(() => ({ cameras: [] }));
  const pupitre = new Pupitre(cameras);
  await pupitre.charger();
  afficher("Alertes", ongletsAlertes("file"), pupitre.noeud);
  large();
  enQuittant(() => { pupitre.quitter(); etroit(); });
  pupitre.connecter();
  const voulue = Number(parametresVue().get("alerte"));
  if (voulue) await pupitre.choisir(voulue);
}

// -- "Alertes" > "Historique" ----------------------------------------------------------------

const large = () => document.getElementById("contenu").classList.add("ecran-alertes");
const etroit = () => document.getElementById("contenu").classList.remove("ecran-alertes");

const versChamp = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

export async function vueHistoriqueAlertes() {
  const p = parametresVue();
  const maintenant = new Date();
  const filtres = {
    since: p.get("since") ?? versChamp(new Date(maintenant.getTime() - 7 * 86_400_000)),
    until: p.get("until") ?? "", tenant: p.get("tenant") ?? "", kind: p.get("kind") ?? "",
    qualification: p.get("qualification") ?? "",
  };
  const [{ tenants }, { alerts }] = await Promise.all([
    api("GET", "/api/v1/tenants").catch(() => ({ tenants: [] })),
    api("GET", `/api/v1/alerts?${new URLSearchParams({
      state: "closed", limit: String(MAX_LISTE),
      ...(filtres.since ? { since: new Date(filtres.since).toISOString() } : {}),
      ...(filtres.until ? { until: new Date(filtres.until).toISOString() } : {}),
      ...(filtres.kind ? { kind: filtres.kind } : {}),
    })}`),
  ]);
  const communes = Object.fromEntries(tenants.filter((t) => t.kind === "commune" || !t.kind).map((t) => [t.id, t.name]));
  for (const a of alerts) if (!(a.tenant_id in communes)) communes[a.tenant_id] = a.tenant_name ?? a.tenant_id;
  const retenues = alerts.filter((a) => (!filtres.tenant || a.tenant_id === filtres.tenant)
    && (!filtres.qualification || a.qualification === filtres.qualification));

  const form = el("form", { class: "carte large filtres", "aria-label": "Filtres de l'historique" },
    el("div", {}, ...champ("Depuis", { name: "since", type: "datetime-local", value: filtres.since })),
    el("div", {}, ...champ("Jusqu'à", { name: "until", type: "datetime-local", value: filtres.until })),
    el("div", {}, ...choix("Commune", "tenant", { "": "Toutes", ...communes }, filtres.tenant)),
    el("div", {}, ...choix("Type", "kind", { "": "Tous", ...TYPES }, filtres.kind)),
    el("div", {}, ...choix("Qualification", "qualification", { "": "Toutes", ...QUALIFICATIONS }, filtres.qualification)),
    el("div", {}, el("button", { type: "submit", text: "Filtrer" })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    location.hash = `#/alertes/historique?${q}`;
  });

  const zoneFiche = el("div", { class: "zone-fiche", "aria-live": "polite" });
  const fiche = new Fiche(zoneFiche, { apres: () => {} });
  const table = el("table", { class: "historique-alertes" },
    el("caption", { class: "droits", text: `${retenues.length} alerte(s) clôturée(s), les plus récentes d'abord` }),
    el("thead", {}, el("tr", {}, ["N°", "Déclenchée", "Clôturée", "Commune", "Caméra", "Type", "Priorité", "Qualification", "Retard", ""]
      .map((t) => el("th", { scope: "col", text: t })))),
    el("tbody", {}, retenues.map((a) => el("tr", { "data-alerte": String(a.id) },
      el("td", { text: String(a.id) }), el("td", { text: dateHeure(a.raised_at) }), el("td", { text: dateHeure(a.closed_at) }),
      el("td", { text: a.tenant_name ?? a.tenant_id }), el("td", { text: a.camera_name ?? a.camera_id ?? "—" }),
      el("td", { text: typeDe(a) }), el("td", {}, badgePriorite(a.priority)),
      el("td", { text: QUALIFICATIONS[a.qualification] ?? a.qualification ?? "—" }),
      el("td", { class: a.late_s ? "texte-retard" : null, text: a.late_s ? duree(a.late_s * 1000) : "—" }),
      el("td", {}, el("button", {
        type: "button", class: "secondaire", text: "Fiche", "aria-label": `Fiche de l'alerte n° ${a.id}`,
        onclick: async () => { await fiche.ouvrir(a.id); zoneFiche.scrollIntoView({ block: "start" }); },
      }))))));
  afficher("Alertes — historique", ongletsAlertes("historique"), form,
    retenues.length ? table : el("p", { text: "Aucune alerte clôturée pour ces critères." }), zoneFiche);
  large();
  enQuittant(etroit);
}

// -- "Tickets" -------------------------------------------------------------------------------

export async function vueTickets() {
  const [{ tickets }, { cameras }] = await Promise.all([
    api("GET", "/api/v1/tickets?state=all"),
    api("GET", "/api/v1/cameras").catch(() => ({ cameras: [] })),
  ]);
  const noms = new Map(cameras.map((c) => [c.id, c]));
  const admin = cameras.filter((c) => c.rights.includes("admin_cameras"));
  const recharger = () => vueTickets().catch((e) => dire(e.message, true));

  const carte = (t) => {
    const zoneForm = el("div", { class: "zone-formulaire" });
    const erreur = el("p", { class: "annonce erreur erreur-formulaire", role: "alert" });
    const fermer = () => zoneForm.replaceChildren();
    const agir = async (corps) => {
      await api("POST", `/api/v1/tickets/${t.id}/actions`, corps);
      dire(`Ticket n° ${t.id} : ${ACTIONS_TICKET[corps.action].toLowerCase()}.`);
      await recharger();
    };
    const formulaires = {
      assign: () => formulaire(`Affecter le ticket n° ${t.id}`,
        saisie("Intervenant (identifiant)", { name: "assigned_to", value: t.assigned_to ?? "", required: true, autocomplete: "off" }),
        "Affecter", (d) => agir({ action: "assign", assigned_to: d.get("assigned_to").trim() }), { annuler: fermer }),
      resolve: () => formulaire(`Résoudre le ticket n° ${t.id}`,
        saisie("Résolution", { tag: "textarea", name: "resolution", rows: "3", required: true }),
        "Résoudre", (d) => agir({ action: "resolve", resolution: d.get("resolution").trim() }), { annuler: fermer }),
    };
    const cam = noms.get(t.camera_id);
    const ligne = (terme, valeur) => (valeur ? [el("dt", { text: terme }), el("dd", { text: valeur })] : []);
    return el("li", { class: "ticket", "data-ticket": String(t.id), "data-etat": t.state },
      el("p", { class: "ticket-titre", text: `N° ${t.id} — ${t.element}` }),
      el("dl", {},
        ...ligne("Caméra", t.camera_name ?? cam?.name ?? t.camera_id),
        ...ligne("Commune", t.tenant_name ?? cam?.tenant_name ?? t.tenant_id),
        ...ligne("Site", t.site),
        ...ligne("Description", t.description),
        ...ligne("Déclarant", t.declarer),
        ...ligne("Ouvert le", dateHeure(t.opened_at)),
        ...ligne("Affecté à", t.assigned_to),
        ...ligne("Résolution", t.resolution),
        ...ligne("Résolu le", t.resolved_at ? dateHeure(t.resolved_at) : null),
        ...ligne("Clos le", t.closed_at ? dateHeure(t.closed_at) : null)),
      t.alert_id ? el("p", {}, el("a", { href: `#/alertes?alerte=${t.alert_id}`, text: `Alerte n° ${t.alert_id}` })) : null,
      el("div", { class: "boutons" }, (POSSIBLES_TICKET[t.state] ?? []).map((action) => el("button", {
        type: "button", class: "secondaire", "data-action": action, text: ACTIONS_TICKET[action],
        "aria-label": `${ACTIONS_TICKET[action]} — ticket n° ${t.id}`,
        onclick: formulaires[action]
          ? () => { erreur.textContent = ""; zoneForm.replaceChildren(formulaires[action]()); zoneForm.querySelector("input, textarea")?.focus(); }
          : async () => { erreur.textContent = ""; try { await agir({ action }); } catch (e) { erreur.textContent = e.message; } },
      }))),
      erreur, zoneForm);
  };

  const tableau = el("div", { class: "tickets-tableau" }, Object.entries(ETATS_TICKET).map(([etat, libelle]) => {
    const ceux = tickets.filter((t) => t.state === etat);
    const id = nouvelId("colonne");
    return el("section", { class: "tickets-colonne", "data-etat": etat, "aria-labelledby": id },
      el("h2", { id, text: `${libelle} (${ceux.length})` }),
      ceux.length ? el("ul", { class: "tickets" }, ceux.map(carte)) : el("p", { class: "droits", text: "Aucun ticket." }));
  }));

  const creation = admin.length ? formulaire("Nouveau ticket", [
    el("h2", { text: "Nouveau ticket d'intervention" }),
    ...liste("Caméra", "camera_id", Object.fromEntries([["", "— Choisir —"], ...admin.map((c) => [c.id, `${c.name} (${c.tenant_name ?? c.tenant})`])]), { required: true }),
    ...saisie("Élément en cause", { name: "element", required: true, list: "elements-ticket", autocomplete: "off" }),
    el("datalist", { id: "elements-ticket" }, ["Caméra", "Objectif / optique", "Alimentation", "Réseau", "Enregistrement", "Support / mât"].map((v) => el("option", { value: v }))),
    ...saisie("Site", { name: "site", autocomplete: "off" }),
    ...saisie("Description", { tag: "textarea", name: "description", rows: "3", required: true }),
  ], "Ouvrir le ticket", async (d) => {
    const t = await api("POST", "/api/v1/tickets", {
      camera_id: d.get("camera_id"), element: d.get("element").trim(), site: d.get("site").trim(),
      description: d.get("description").trim(),
    });
    dire(`Ticket n° ${t.id} ouvert.`);
    await recharger();
  }) : null;
  creation?.classList.add("carte");

  afficher("Tickets d'intervention",
    el("p", {}, el("button", { type: "button", class: "secondaire", text: "Actualiser", onclick: recharger })),
    tableau, creation);
  large();
  enQuittant(etroit);
}
