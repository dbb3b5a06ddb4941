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
    "cluster.nats_password_missing": (
        "Secret manquant pour NATS (cluster.nats_user) : définissez la variable "
        "d'environnement {env}."
    ),
    "cluster.bus_refused": (
        "Le bus NATS refuse les identifiants de ce serveur : vérifiez cluster.nats_user "
        "et le mot de passe de la variable cluster.nats_password_env."
    ),
    "cluster.bus_silent": (
        "Le bus NATS ne répond pas après {seconds} s : vérifiez cluster.nats_url et "
        "que le serveur NATS (JetStream) fonctionne."
    ),
    "cluster.nats_password_charset": (
        "Mot de passe NATS refusé (variable d'environnement {env}) : seuls les lettres, "
        "chiffres et les caractères - . _ ~ sont acceptés."
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
    # evidence exports (vms/evidence)
    # request validation
    "request.no_camera": "Un extrait doit porter sur au moins une caméra.",
    "request.duplicate_camera": "La caméra {camera_id} figure deux fois dans la demande d'extrait.",
    "request.range_invalid": "Plage horaire invalide : la fin doit suivre le début.",
    "request.naive_time": "Les dates de la demande doivent préciser leur fuseau horaire.",
    "request.field_missing": "La demande d'extrait doit préciser : {field}.",
    "request.id_invalid": "Numéro d'extrait invalide : {id}.",
    "export.nothing_recorded": (
        "Aucun enregistrement dans la plage demandée pour les caméras choisies : rien à extraire."
    ),
    "export.exists": "L'extrait existe déjà : {path}",
    "export.unreadable_segment": (
        "Segment illisible pour la caméra {camera_id} ({key}) : l'extrait est interrompu."
    ),
    "export.write_failed": "Écriture de l'extrait impossible : {detail}.",
    "export.muxer_failed": "la copie de la vidéo de la caméra {camera_id} a échoué",
    "export.disk_full": "disque plein",
    "export.no_permission": "droits insuffisants sur le dossier des extraits",
    "export.io_error": "erreur d'entrée-sortie",
    "export.ffmpeg_missing": (
        "L'incrustation demande le programme ffmpeg, introuvable sur ce serveur "
        "(paquet « ffmpeg »)."
    ),
    "export.drawtext_missing": (
        "L'incrustation est impossible : le programme ffmpeg de ce serveur n'a pas le "
        "filtre « drawtext » (libfreetype)."
    ),
    "export.font_missing": (
        "L'incrustation est impossible : police de caractères introuvable ({path}). "
        "Installez le paquet « fonts-dejavu-core »."
    ),
    "export.overlay_failed": "L'incrustation de la caméra {camera_id} a échoué.",
    "export.overlay_frames": (
        "L'incrustation de la caméra {camera_id} a produit {got} images au lieu de {expected}."
    ),
    # signing key
    "key.unreadable": "Clé de signature des extraits illisible : {path}",
    "key.public_invalid": "Clé publique invalide (PEM Ed25519 attendu) : {source}",
    # verification
    "verify.unreadable": "Extrait illisible (ni dossier ni archive .zip valide) : {path}",
    "verify.zip_unsafe": "Nom de fichier refusé dans l'archive : {name}",
    "verify.missing_file": "Fichier absent : {path}",
    "verify.manifest_invalid": "Le manifeste (manifest.json) est illisible : {detail}",
    "verify.signature_invalid": (
        "SIGNATURE INVALIDE : le manifeste a été modifié après sa signature, ou il n'a "
        "pas été signé par cette clé."
    ),
    "verify.hash_mismatch": "Empreinte SHA-256 différente pour {path} : fichier modifié.",
    "verify.size_mismatch": "Taille différente pour {path} : {got} octets au lieu de {expected}.",
    "verify.unlisted": "Fichier non prévu dans l'extrait : {path}",
    "verify.sums_invalid": "Ligne illisible dans SHA256SUMS : {line}",
    "verify.sums_unlisted": "Fichier absent de SHA256SUMS : {path}",
    "verify.sums_extra": "SHA256SUMS cite un fichier absent du manifeste : {path}",
    "verify.key_file_unreadable": "Clé publique illisible : {path}",
    "verify.key_from_bundle": (
        "Attention : vérification faite avec la clé publique jointe à l'extrait. Un "
        "faussaire pouvant remplacer à la fois l'extrait et cette clé, comparez son "
        "empreinte ({fingerprint}) à celle publiée par l'installation, ou fournissez "
        "la clé publique obtenue séparément (--cle)."
    ),
    "verify.key_differs": (
        "La clé publique jointe à l'extrait diffère de la clé fournie : seule la clé "
        "fournie a été utilisée."
    ),
    "verify.key_used": "Clé publique utilisée : empreinte {fingerprint} ({source}).",
    "verify.source_given": "clé fournie",
    "verify.source_bundle": "clé jointe à l'extrait",
    "verify.ok": (
        "EXTRAIT INTÈGRE : signature valide, {files} fichiers vérifiés (SHA-256). "
        "Extrait n° {export_id}, créé le {created_at}."
    ),
    "verify.failed": "EXTRAIT NON CONFORME : {count} problème(s) détecté(s).",
    # analytics tier: technical alerts (analytics/technical.py), rules (analytics/rules)
    "analytics.technical.obstruction": "Caméra obstruée",
    "analytics.technical.blur": "Image floue",
    "analytics.technical.scene_change": "Changement de scène",
    "analytics.technical.darkness": "Image trop sombre",
    # event labels shown to operators
    "analytics.label.intrusion": "Présence dans la zone « {rule_id} »",
    "analytics.label.intrusion_crossing": "Franchissement vers la zone « {rule_id} »",
    "analytics.label.counting": "Passage ({direction}) sur la ligne « {rule_id} »",
    "analytics.label.wrong_way": "Déplacement à contresens (« {rule_id} »)",
    "analytics.label.on_ground": "Personne au sol (« {rule_id} »)",
    "analytics.label.abandoned": "Objet abandonné (« {rule_id} »)",
    "analytics.label.density": (
        "Densité excessive : {density:.2f} personne(s) par m² (« {rule_id} »)"
    ),
    "analytics.label.crowd_movement": "Mouvement de foule (« {rule_id} »)",
    "analytics.label.weapon": "Présence d'une arme possible (« {rule_id} »)",
    "analytics.label.fire": "Départ de feu possible (« {rule_id} »)",
    "analytics.direction.direct": "sens direct",
    "analytics.direction.inverse": "sens inverse",
    # geometry
    "analytics.geometry.too_few_points": "polygone invalide : au moins 3 points sont attendus",
    "analytics.geometry.out_of_picture": (
        "chaque point [x, y] doit être compris entre 0 et 1 (coordonnées normalisées de l'image)"
    ),
    "analytics.geometry.degenerate": (
        "polygone dégénéré : son aire est nulle (points alignés ou confondus)"
    ),
    "analytics.geometry.self_crossing": (
        "polygone croisé : ses côtés se coupent (donnez les points dans l'ordre du contour)"
    ),
    "analytics.geometry.line_degenerate": "ligne invalide : ses deux extrémités sont confondues",
    "analytics.geometry.vector_null": "direction invalide : le vecteur est nul",
    # configuration
    "analytics.config.forbidden": (
        "Analyse interdite : « {name} » relève de {what}, que la loi exclut "
        "(LAW-10 : loi 2023-380, art. 10, et décret 2023-828 — ni identification biométrique, "
        "ni reconnaissance faciale, ni réidentification, ni attributs des personnes)."
    ),
    "analytics.config.legal_basis_missing": (
        "L'analyse automatisée de la caméra « {camera_id} » exige une base légale : "
        "référence de l'arrêté préfectoral et dates de validité (LAW-10 : loi 2023-380, art. 10)."
    ),
    "analytics.config.legal_basis_dates": (
        "Base légale invalide : la fin de validité ({valid_to}) précède son début ({valid_from})."
    ),
    "analytics.config.field_invalid": (
        "Configuration d'analyse invalide, champ « {field} » : {error}"
    ),
    "analytics.config.duplicate_rule": "identifiants de règle en double : {rule_id}",
    "analytics.config.duplicate_model": "identifiants de modèle en double : {model_id}",
    "analytics.config.unknown_model": (
        "la règle « {rule_id} » cite un modèle inconnu : « {model_id} »"
    ),
    "analytics.config.unknown_class": (
        "la règle « {rule_id} » cite la classe « {cls} », que le modèle « {model_id} » "
        "ne produit pas"
    ),
    "analytics.config.no_class": "la règle « {rule_id} » doit viser au moins une classe",
    "analytics.config.duplicate_day": "jour en double dans la plage horaire : {day}",
    "analytics.config.naive_time": (
        "Les horodatages des images analysées doivent préciser leur fuseau."
    ),
}

# what LAW-10 (loi 2023-380, art. 10) forbids, as analytics refusals name it
FORBIDDEN_WHAT: dict[str, str] = {
    "face": "la détection ou la reconnaissance faciale",
    "reid": "la réidentification des personnes",
    "attribute": "l'analyse d'attributs des personnes (genre, âge, vêtements…)",
    "biometric": "l'identification biométrique",
    "plate": "la lecture de plaques d'immatriculation (interconnexion avec d'autres fichiers)",
}

# the causes of the gap ledger, as evidence bundles and the console name them
GAP_CAUSES: dict[str, str] = {
    "connect_refused": "connexion refusée par la caméra",
    "timeout": "caméra injoignable (délai dépassé)",
    "stall": "flux interrompu (plus d'images reçues)",
    "eof": "flux terminé par la caméra",
    "decode_error": "flux illisible",
    "timestamp_jump": "discontinuité d'horodatage du flux",
    "crash": "arrêt anormal de l'enregistreur",
    "shutdown": "arrêt de l'enregistreur",
    "storage_error": "erreur de stockage",
    "failover": "reprise par un autre enregistreur (serveur perdu)",
    "handover": "transfert vers un autre enregistreur",
}


def msg(message_id: str, /, **fields: object) -> str:
    """Return the French message ``message_id`` formatted with ``fields``."""
    return MESSAGES[message_id].format(**fields)
