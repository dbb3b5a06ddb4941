"""Catalogue of user-facing messages (French). Code, logs and docs stay English.

Keep every string a user can read here so it can be reviewed and translated in one
place. Formatting uses ``str.format`` with named fields.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "config.file_missing": "Fichier de configuration introuvable : {path}",
    "config.toml_invalid": "Fichier de configuration illisible ({path}, ligne {line}) : {error}",
    "config.field_invalid": "Configuration invalide, champ « {field} » : {error}",
    "retention.above_legal_max": (
        "Durée de conservation refusée : {days} jours dépasse le maximum légal de "
        "{max_days} jours (article L252-5 du code de la sécurité intérieure)."
    ),
    "retention.below_min": "Durée de conservation refusée : au moins {min_days} jour(s).",
    "hold.reference_missing": (
        "Une conservation judiciaire exige la référence de la procédure "
        "(numéro de PV ou de réquisition)."
    ),
    "hold.range_invalid": "Plage horaire invalide : la fin doit suivre le début.",
    "storage.replica_unavailable": "Réplique de stockage « {name} » indisponible.",
    "storage.object_missing": "Segment introuvable sur la réplique « {name} » : {key}",
    "storage.integrity": "Empreinte SHA-256 différente pour {key} sur « {name} ».",
    "camera.unknown": "Caméra inconnue : {camera_id}",
    "crypto.master_key_missing": (
        "Chiffrement activé mais clé maîtresse absente : définissez la variable "
        "d'environnement {env} ou le fichier {path}."
    ),
    "crypto.master_key_invalid": "Clé maîtresse invalide : 32 octets encodés en base64 attendus.",
    "crypto.decrypt_failed": (
        "Déchiffrement impossible pour {key} : données altérées ou mauvaise clé."
    ),
    "db.unavailable": "Base de données indisponible : {detail}",
    "stream.unreadable": "Flux illisible pour la caméra {camera_id} : {detail}",
    "onvif.timeout": "La caméra ne répond pas (délai de {timeout_s:g} s dépassé) : {address}",
    "onvif.connect": "Connexion impossible à la caméra {address}",
    "onvif.auth": "Identifiants ONVIF refusés par la caméra {address}",
    "onvif.xml": "Réponse ONVIF illisible (XML invalide) de la caméra {address}",
    "onvif.unexpected": "Réponse ONVIF inattendue de la caméra {address}",
    "onvif.soap": "La caméra a renvoyé une erreur SOAP : {reason}",
    "onvif.http": "Erreur HTTP {status} de la caméra {address}",
    "onvif.not_supported": "Opération non prise en charge par la caméra {address}",
    "onvif.unknown_token": "La caméra ne connaît pas ce préréglage ou ce profil",
    "onvif.address": "Adresse ONVIF invalide : {address}",
    "onvif.no_ptz": "La caméra {address} ne propose pas de commande PTZ",
    "onvif.no_ptz_profile": "Aucun profil média de la caméra {address} n'a de configuration PTZ",
    "onvif.name_invalid": (
        "Nom invalide : 1 à {max} caractères imprimables attendus (sans retour à la ligne)"
    ),
    "onvif.token_invalid": "Identifiant de préréglage invalide",
    "onvif.speed_invalid": "Vitesse PTZ invalide : nombre entre -1 et 1 attendu",
    "onvif.move_timeout_invalid": "Durée de mouvement PTZ invalide : secondes (> 0) attendues",
    "onvif.interface": "Adresse d'interface réseau invalide pour la découverte : {address}",
}


def msg(message_id: str, /, **fields: object) -> str:
    """Return the French message ``message_id`` formatted with ``fields``."""
    return MESSAGES[message_id].format(**fields)
