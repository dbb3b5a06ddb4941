// "Ajouter une caméra (ONVIF)" in the Caméras view, for camera administrators: the
// camera's address and ONVIF credentials go to an ingest worker, which reads the
// device, its profiles, stream and snapshot URIs, PTZ capabilities and clock drift.
// Cameras are declared in the configuration (reviewed like code): the panel shows
// the [[cameras]] block to paste, without the password (an environment variable).

import { api, champ, el, moi } from "./lib.js";

const DERIVE_MAX_S = 2; // beyond this, evidence timestamps become disputable

function identifiant(texte) {
  const id = texte.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return id || "camera";
}

/** The [[cameras]] block for a probed camera (a TOML string). */
export function blocConfiguration(r, adresse, utilisateur, tenant) {
  const id = identifiant(`${r.device.model}-${r.device.serial}`);
  const variable = `CAM_${id.toUpperCase().replace(/-/g, "_")}_PASSWORD`;
  const q = (s) => JSON.stringify(s); // TOML basic strings accept JSON escapes
  const lignes = [
    "[[cameras]]", `id = ${q(id)}`, `tenant = ${q(tenant)}`, `name = ${q(`${r.device.manufacturer} ${r.device.model}`)}`,
  ];
  for (const [nom, profil, enregistre] of [["main", r.main, true], ["sub", r.sub, false]]) {
    if (!profil?.stream_uri) continue;
    lignes.push("[[cameras.streams]]", `name = ${q(nom)}`, `url = ${q(profil.stream_uri)}`);
    if (!enregistre) lignes.push("record = false");
    if (utilisateur) lignes.push(`username = ${q(utilisateur)}`, `password_env = ${q(variable)}`);
  }
  lignes.push("[cameras.onvif]", `address = ${q(adresse)}`, `username = ${q(utilisateur)}`,
    `password_env = ${q(variable)}`, `ptz = ${Boolean(r.ptz?.continuous)}`);
  return lignes.join("\n");
}

function resultat(r, adresse, utilisateur, tenant) {
  const profil = (p) => p ? `${p.name} — ${p.encoding ?? "?"} ${p.width ?? "?"}×${p.height ?? "?"} — ${p.stream_uri ?? "pas d'URL"}` : "absent";
  const derive = r.clock_drift_s;
  const alerte = derive !== null && Math.abs(derive) > DERIVE_MAX_S;
  const ptz = r.ptz
    ? ["mouvement continu", r.ptz.zoom && "zoom", r.ptz.presets && "préréglages", r.ptz.home && "position d'origine"].filter(Boolean).join(", ")
    : "non (caméra fixe)";
  const bloc = blocConfiguration(r, adresse, utilisateur, tenant);
  return el("div", { class: "onvif-resultat" },
    el("dl", {},
      el("dt", { text: "Appareil" }), el("dd", { text: `${r.device.manufacturer} ${r.device.model} (micrologiciel ${r.device.firmware}, n° ${r.device.serial})` }),
      el("dt", { text: "Flux principal" }), el("dd", { text: profil(r.main) }),
      el("dt", { text: "Flux secondaire" }), el("dd", { text: profil(r.sub) }),
      el("dt", { text: "Instantané" }), el("dd", { text: r.snapshot_uri ?? "non proposé" }),
      el("dt", { text: "PTZ" }), el("dd", { text: ptz }),
      el("dt", { text: "Horloge" }), el("dd", {
        class: alerte ? "erreur" : null,
        text: derive === null ? "non lue" : `écart de ${derive.toFixed(1)} s avec le serveur${alerte ? " : réglez la caméra sur le serveur de temps (NTP) avant de l'ajouter, les horodatages des images en dépendent" : ""}`,
      })),
    el("p", { text: "Bloc à ajouter au fichier de configuration (le mot de passe se donne par la variable d'environnement nommée) :" }),
    el("pre", { class: "onvif-bloc", tabindex: "0", "aria-label": "Bloc de configuration", text: bloc }));
}

/** The panel, or null when the user administers no commune's cameras. */
export function panneauOnvif(tenants) {
  const miennes = moi.rights.admin_cameras ?? [];
  const communes = tenants.filter((t) => miennes.includes(t.id));
  if (!communes.length) return null;
  const zone = el("div", { "aria-live": "polite" });
  const erreur = el("p", { class: "erreur", role: "alert", hidden: true });
  const form = el("form", { class: "onvif-formulaire" },
    ...champ("Adresse ONVIF (hôte, hôte:port ou URL)", { name: "address", required: true, maxlength: "300", autocomplete: "off" }),
    ...champ("Utilisateur ONVIF", { name: "username", maxlength: "128", autocomplete: "off" }),
    ...champ("Mot de passe ONVIF (non conservé)", { name: "password", type: "password", maxlength: "256", autocomplete: "new-password" }),
    el("label", { for: "c-onvif-commune", text: "Commune" }),
    el("select", { id: "c-onvif-commune", name: "tenant" }, communes.map((t) => el("option", { value: t.id, text: t.name }))),
    el("button", { type: "submit", text: "Interroger la caméra" }), erreur);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    erreur.hidden = true;
    zone.replaceChildren(el("p", { text: "Interrogation de la caméra…" }));
    const bouton = form.querySelector("button[type=submit]");
    bouton.disabled = true;
    try {
      const adresse = d.get("address").trim();
      const r = await api("POST", "/api/v1/onvif/probe", { address: adresse, username: d.get("username"), password: d.get("password") });
      zone.replaceChildren(resultat(r, adresse, d.get("username"), d.get("tenant")));
    } catch (e) {
      zone.replaceChildren();
      erreur.textContent = e.message;
      erreur.hidden = false;
    } finally {
      form.querySelector("[name=password]").value = "";
      bouton.disabled = false;
    }
  });
  const trouvees = el("ul", { class: "onvif-decouvertes", "aria-label": "Caméras découvertes" });
  const decouvrir = el("button", {
    type: "button", class: "secondaire", text: "Découvrir les caméras du réseau (WS-Discovery)",
    onclick: async () => {
      trouvees.replaceChildren(el("li", { text: "Recherche…" }));
      try {
        const { devices } = await api("POST", "/api/v1/onvif/discover");
        trouvees.replaceChildren(...(devices.length ? devices.map((url) => el("li", {},
          el("button", { type: "button", class: "lien", text: url,
            onclick: () => { form.querySelector("[name=address]").value = url; form.querySelector("[name=username]").focus(); } })))
          : [el("li", { text: "Aucune caméra n'a répondu." })]));
      } catch (e) {
        trouvees.replaceChildren(el("li", { class: "erreur", role: "alert", text: e.message }));
      }
    },
  });
  return el("section", { class: "onvif", "aria-labelledby": "titre-onvif" },
    el("h2", { id: "titre-onvif", text: "Ajouter une caméra (ONVIF)" }), el("p", {}, decouvrir), trouvees, form, zone);
}
