// Page opened by a live link (share with a named recipient, or public link): the token
// stays in the URL fragment, never sent in a Referer nor written in access logs.
import { openLive } from "./player.js";

const token = location.hash.slice(1);
const info = document.getElementById("info");
const tuile = document.getElementById("tuile");
const etat = document.getElementById("etat");
const ETATS = {
  connexion: "Connexion…", direct: "En direct", perdu: "Flux perdu",
  refus: "Lien invalide", desactive: "Transmission désactivée", erreur: "Erreur",
};

async function main() {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) { info.textContent = "Lien invalide."; tuile.hidden = true; return; }
  const base = `/api/v1/links/${token}`;
  const r = await fetch(base);
  if (!r.ok) {
    let message = "Lien invalide, expiré ou révoqué.";
    try { message = (await r.json()).erreur.message; } catch { /* not JSON */ }
    info.textContent = message; tuile.hidden = true; return;
  }
  const lien = await r.json();
  const fin = new Date(lien.expire).toLocaleString("fr-FR");
  info.textContent = lien.destinataire ? `Transmis à ${lien.destinataire} — valable jusqu'au ${fin}.` : `Valable jusqu'au ${fin}.`;
  openLive(document.getElementById("video"), {
    whep: lien.webrtc ? `${base}/whep` : null,
    fmp4: `${base}/fmp4`,
    fmp4Only: !lien.webrtc,
    onState: (state, message) => { tuile.dataset.etat = state; etat.textContent = message || ETATS[state]; },
    onLatency: (ms) => { tuile.dataset.latence = String(ms); },
  });
}
main();
