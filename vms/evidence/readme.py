"""``LISEZMOI.txt``: the bundle explained to its recipient, in French."""

from __future__ import annotations

from typing import Any

from vms.evidence.manifest import MANIFEST, PLAYER, PUBLIC_KEY, SIGNATURE, SUMS
from vms.evidence.timeline import local_text, parse_iso


def _when(text: str, zone: str) -> str:
    return local_text(parse_iso(text), zone)


def _duration(seconds: float) -> str:
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def render(manifest: dict[str, Any]) -> str:
    zone = manifest["timezone"]
    e = manifest["export"]
    rr = e["requested_range"]
    lines = [
        f"EXTRAIT DE VIDÉOPROTECTION n° {e['id']}",
        "=" * 40,
        "",
        f"Installation        : {manifest['installation']}",
        f"Créé le             : {_when(e['created_at'], zone)}",
        f"Référence           : {e['reference']}",
        f"Motif               : {e['motive']}",
        f"Service destinataire: {e['service']}",
        f"Officier / agent    : {e['officer']}",
        f"Extrait par         : {e['requested_by']}",
        f"Autorisé par        : {e['approved_by'] or '—'}",
        f"Plage demandée      : du {_when(rr['start'], zone)} au {_when(rr['end'], zone)}",
        f"Heures données dans le fuseau {zone} (heure légale française), à la milliseconde.",
        "",
        "CAMÉRAS",
        "-------",
    ]
    for cam in manifest["cameras"]:
        lines += [
            "",
            f"* {cam['name']} (identifiant {cam['id']}) — {cam['location']} — {cam['commune']}",
        ]
        if cam["covered_range"] is None:
            lines.append("  Aucun enregistrement dans la plage demandée.")
        else:
            cr = cam["covered_range"]
            lines.append(
                f"  Images exportées du {_when(cr['start'], zone)} au {_when(cr['end'], zone)}"
                f" : {cam['frames']} images, {_duration(cam['duration_s'])} de vidéo."
            )
        for f in cam["files"]:
            lines.append(f"  Vidéo originale (copie sans perte) : {f['path']}")
            if f["overlay_path"]:
                lines.append(f"  Vidéo avec incrustation (réencodée) : {f['overlay_path']}")
        for n in cam["not_recorded"]:
            causes = sorted(
                {
                    g["cause_fr"]
                    for g in cam["gaps"]
                    if g["start"] < n["end"] and g["end"] > n["start"]
                }
            )
            why = " ; ".join(causes) if causes else "aucun enregistrement"
            lines.append(
                f"  Sans image du {_when(n['start'], zone)} au {_when(n['end'], zone)} : {why}."
            )
    fingerprint = manifest["signing_key"]["fingerprint"]
    lines += [
        "",
        "CONTENU DE L'EXTRAIT",
        "--------------------",
        "- videos/ : pour chaque caméra, la vidéo originale au format MP4 (H.264), copie",
        "  exacte des images enregistrées, sans réencodage ni perte de qualité ; avec",
        "  l'option d'incrustation, une seconde vidéo « -incrustation » réencodée qui porte",
        "  le nom de la caméra, son emplacement, la date et l'heure de chaque image.",
        f"- {PLAYER} : lecteur hors ligne (navigateur Firefox ou Chromium) qui affiche la",
        "  caméra, la date et l'heure de chaque image, avance image par image, lit en",
        "  accéléré, au ralenti et en arrière, et recherche une date et une heure.",
        f"- {MANIFEST} : description complète de l'extrait (demande, caméras, périodes",
        "  enregistrées, interruptions et leurs causes, segments d'origine et leurs",
        "  empreintes, empreinte SHA-256 de chaque fichier).",
        f"- {SIGNATURE} : signature électronique Ed25519 du manifeste par l'installation.",
        f"- {PUBLIC_KEY} : clé publique de l'installation, empreinte",
        f"  {fingerprint}.",
        f"- {SUMS} : empreinte SHA-256 de chaque fichier.",
        "",
        "LIRE LES VIDÉOS",
        "---------------",
        "Décompressez d'abord l'archive. Les fichiers MP4 se lisent avec VLC (ou tout",
        f"lecteur standard). Pour voir la date et l'heure de chaque image, ouvrez {PLAYER}",
        "dans un navigateur : il ne se connecte à aucun réseau.",
        "La vidéo originale commence à l'image clé qui précède le début demandé (une copie",
        "sans perte ne peut pas commencer entre deux images clés) : la plage réellement",
        "couverte est indiquée ci-dessus. Les interruptions d'enregistrement ne figurent",
        "pas dans la vidéo : les périodes enregistrées s'y suivent ; le manifeste et le",
        "lecteur donnent l'heure réelle de chaque image.",
        "",
        "VÉRIFIER L'INTÉGRITÉ ET L'AUTHENTICITÉ",
        "--------------------------------------",
        "1. Empreintes (dans le dossier de l'extrait) :",
        f"     sha256sum -c {SUMS}",
        "   Chaque ligne doit finir par « OK ».",
        "2. Signature du manifeste (OpenSSL 3) :",
        f"     openssl pkeyutl -verify -pubin -inkey {PUBLIC_KEY} -rawin \\",
        f"       -in {MANIFEST} -sigfile {SIGNATURE}",
        "   Réponse attendue : « Signature Verified Successfully ».",
        "3. Ou, avec le logiciel de l'installation :",
        "     vms export verify <dossier ou archive .zip> --cle <clé publique>",
        "",
        "Important : la clé publique jointe à l'extrait ne prouve rien à elle seule (un",
        "faussaire pourrait remplacer l'extrait et la clé). Comparez son empreinte à",
        "celle que publie l'installation, ou vérifiez avec la clé publique obtenue",
        "directement auprès d'elle.",
        "",
    ]
    return "\n".join(lines)
