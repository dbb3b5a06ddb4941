"""The ``vms`` command. One program, several roles (see ARCHITECTURE.md)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from vms.errors import VmsError


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"date invalide « {text} » (format ISO 8601 attendu, ex. 2026-11-22T10:00:00+01:00)"
        ) from err
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vms", description="Vidéoprotection : enregistrement et supervision"
    )
    p.add_argument("--config", type=Path, default=None, help="fichier de configuration TOML")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--log-json", action="store_true", help="journaux JSON (pour un SIEM)")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="tous les rôles dans un processus (démo : caméras simulées)")
    sub.add_parser("ingest", help="rôle d'enregistrement seul")
    sub.add_parser("analytics", help="rôle d'analyse seul (caméras de la configuration)")
    sub.add_parser("web", help="console et API (HTTPS) seules")
    sub.add_parser(
        "worker",
        help="tâches de fond seules : pupitre d'alertes, production des extraits, "
        "conservations, purge, réparation des répliques (une ou plusieurs par site)",
    )
    sub.add_parser("migrate", help="applique les migrations de la base")
    chk = sub.add_parser("check", help="vérifie les invariants du stockage")
    chk.add_argument("--no-hash", action="store_true", help="ne relit pas les empreintes")
    sub.add_parser("purge", help="une passe de destruction des enregistrements expirés")
    sub.add_parser("repair", help="une passe de réparation des répliques")

    sim = sub.add_parser("sim", help="caméras RTSP simulées")
    sim.add_argument("--cameras", type=int, default=4, help="caméras « boucle » (sans encodage)")
    sim.add_argument("--counter-cameras", type=int, default=0, help="caméras à compteur encodé")
    sim.add_argument("--port", type=int, default=8554)

    keys = sub.add_parser("keys", help="clés de chiffrement (EVD-06)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    exp = keys_sub.add_parser("export", help="remet les clés d'une commune à l'autorité")
    exp.add_argument("--tenant", required=True)

    hold = sub.add_parser("hold", help="conservations judiciaires (réquisitions)")
    hold_sub = hold.add_subparsers(dest="hold_command", required=True)
    add = hold_sub.add_parser("add", help="place des enregistrements sous conservation judiciaire")
    add.add_argument("--reference", required=True, help="numéro de PV ou de réquisition")
    add.add_argument(
        "--procedure",
        default="requisition",
        choices=["flagrant_delit", "enquete_preliminaire", "information_judiciaire", "requisition"],
    )
    add.add_argument("--cameras", required=True, help="identifiants séparés par des virgules")
    add.add_argument("--from", dest="start", required=True, type=_parse_time)
    add.add_argument("--to", dest="end", required=True, type=_parse_time)
    add.add_argument("--expires", type=_parse_time, default=None)
    add.add_argument("--by", dest="requested_by", default="", help="officier requérant")
    hold_sub.add_parser("list", help="liste les conservations actives")
    rel = hold_sub.add_parser("release", help="lève une conservation")
    rel.add_argument("id", type=int)

    users = sub.add_parser("users", help="comptes")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    uadd = users_sub.add_parser(
        "add", help="crée un compte (premier administrateur) ; affiche son mot de passe provisoire"
    )
    uadd.add_argument("--login", required=True)
    uadd.add_argument("--name", required=True, help="nom affiché")
    uadd.add_argument(
        "--role",
        required=True,
        choices=["operator", "supervisor", "admin", "auditor", "commune_viewer", "requester"],
    )
    uadd.add_argument("--tenant", required=True, help="commune, intercommunalité ou CSD")
    uadd.add_argument(
        "--tenant-kind", default=None, choices=["commune", "intercommunality", "csd"],
        help="crée le tenant s'il n'existe pas",
    )  # fmt: skip
    uadd.add_argument(
        "--grant", action="append", default=[], metavar="ACTION@TENANT[/GROUPE]",
        help="droit accordé (répétable), ex. admin_users@csd",
    )  # fmt: skip
    uadd.add_argument("--no-mfa", action="store_true", help="sans second facteur")

    export = sub.add_parser("export", help="extraits remis aux forces de l'ordre")
    export_sub = export.add_subparsers(dest="export_command", required=True)
    ever = export_sub.add_parser(
        "verify", help="vérifie l'intégrité et la signature d'un extrait (dossier ou .zip)"
    )
    ever.add_argument("bundle", type=Path, help="dossier ou archive .zip de l'extrait")
    ever.add_argument("--cle", type=Path, default=None, help="clé publique de l'installation (PEM)")
    ecre = export_sub.add_parser(
        "create", help="demande un extrait et le produit (barre d'avancement) s'il n'attend pas "
        "de validation",
    )  # fmt: skip
    ecre.add_argument("--cameras", required=True, help="identifiants séparés par des virgules")
    ecre.add_argument("--from", dest="start", required=True, type=_parse_time)
    ecre.add_argument("--to", dest="end", required=True, type=_parse_time)
    ecre.add_argument("--motive", required=True, help="motif de l'extraction")
    ecre.add_argument(
        "--service", required=True,
        choices=["police_nationale", "gendarmerie", "police_municipale", "justice", "pompiers",
                 "autre"],
    )  # fmt: skip
    ecre.add_argument("--officer", required=True, help="officier destinataire")
    ecre.add_argument("--reference", required=True, help="n° de procédure ou de réquisition")
    ecre.add_argument("--by", required=True, help="identifiant de l'agent qui demande")
    ecre.add_argument("--overlay", action="store_true", help="joint une copie avec incrustation")
    ecre.add_argument("--no-wait", action="store_true", help="met en file sans produire")
    erun = export_sub.add_parser("run", help="produit un extrait en file (barre d'avancement)")
    erun.add_argument("id", type=int)
    export_sub.add_parser("list", help="journal des extractions")
    export_sub.add_parser("key", help="affiche la clé publique qui vérifie les extraits")

    tr = sub.add_parser("transfer", help="copie d'enregistrements vers une autre installation")
    tr_sub = tr.add_subparsers(dest="transfer_command", required=True)
    tout = tr_sub.add_parser("out", help="écrit les enregistrements choisis dans un fichier signé")
    tout.add_argument("--cameras", required=True, help="identifiants séparés par des virgules")
    tout.add_argument("--from", dest="start", required=True, type=_parse_time)
    tout.add_argument("--to", dest="end", required=True, type=_parse_time)
    tout.add_argument("--out", required=True, type=Path, help="fichier .tar à écrire")
    tout.add_argument("--motive", required=True, help="motif de la copie")
    tout.add_argument("--by", required=True, help="identifiant de l'agent")
    tin = tr_sub.add_parser("in", help="vérifie et indexe un fichier de transfert")
    tin.add_argument("file", type=Path)
    tin.add_argument("--cle", required=True, type=Path, help="clé publique de la source (PEM)")
    tin.add_argument("--tenant", required=True, help="commune qui reçoit les enregistrements")
    tin.add_argument("--prefix", default="copie-", help="préfixe des identifiants de caméra")
    tin.add_argument("--by", required=True, help="identifiant de l'agent")

    audit = sub.add_parser("audit", help="journal d'audit (LAW-04)")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="recalcule la chaîne et signale le premier maillon rompu")
    audit_sub.add_parser(
        "purge", help="détruit les entrées plus anciennes que la durée de conservation"
    )
    _report_parser(sub)
    return p


def _report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser("report", help="rapports (EVD-12, CONF-02, CONF-03, LAW-04, CONF-05)")
    rep_sub = rep.add_subparsers(dest="report_command", required=True)
    men = rep_sub.add_parser(
        "mensuel", help="enregistre le rapport mensuel des enregistrements de chaque commune"
    )
    men.add_argument("--mois", help="mois AAAA-MM (défaut : le mois précédent)")
    for name, kind, text in (
        ("enregistrements", "enregistrements", "enregistrements sur une période (EVD-12)"),
        ("usage", "usage", "qui a regardé quelle caméra, quand, combien de temps (CONF-02)"),
        ("alertes", "alertes", "alertes par commune et par type (ALR-03, ALR-05)"),
        ("tickets", "tickets", "tickets d'incident par trimestre (CONF-03)"),
        ("disponibilite", "disponibilite", "part de la période enregistrée par caméra"),
        (
            "alertes_camera",
            "alertes_camera",
            "alertes par caméra : traitées, en retard, incidents (ALR-05)",
        ),
        ("comite", "comite", "alertes anonymisées pour les comités (ALR-05)"),
        ("registre", "registre", "registre pour la préfecture (LAW-04)"),
    ):
        r = rep_sub.add_parser(name, help=text)
        r.set_defaults(report_kind=kind)
        r.add_argument("--mois", help="mois AAAA-MM (heure de Paris)")
        r.add_argument("--debut", type=_parse_time, help="début ISO 8601 (sans --mois)")
        r.add_argument("--fin", type=_parse_time, help="fin ISO 8601, exclue (sans --mois)")
        r.add_argument("--commune", help="une seule commune (défaut : toutes)")
        r.add_argument("--out", type=Path, help="fichier CSV (défaut : sortie standard)")
        if kind == "usage":
            r.add_argument("--pas", choices=["detail", "jour", "mois"], default="jour",
                           help="détail des sessions ou agrégats par jour ou par mois")  # fmt: skip
    rev = rep_sub.add_parser(
        "reversibilite", help="toutes les données d'une commune dans une archive zip (CONF-05)"
    )
    rev.add_argument("--tenant", required=True, help="identifiant de la commune")
    rev.add_argument("--out", type=Path, required=True, help="fichier zip à écrire")
    des = rep_sub.add_parser(
        "destruction",
        help="détruit toutes les données d'une commune en fin de contrat, après son archive "
        "de réversibilité (CONF-05)",
    )
    des.add_argument("--tenant", required=True, help="identifiant de la commune")
    des.add_argument(
        "--archive", type=Path, required=True, help="archive de réversibilité de la commune"
    )
    des.add_argument("--confirmer", help="répétez l'identifiant de la commune pour confirmer")
    des.add_argument(
        "--simulation", action="store_true", help="compte ce qui serait détruit, sans rien détruire"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from vms.logs import setup_logging

    setup_logging(args.log_level, json_lines=args.log_json)
    log = logging.getLogger("vms")
    try:
        if args.command == "sim":
            from vms.sim.launcher import main as sim_main

            return sim_main(
                [
                    "--cameras",
                    str(args.cameras),
                    "--counter-cameras",
                    str(args.counter_cameras),
                    "--port",
                    str(args.port),
                ]
            )
        if args.command == "export" and args.export_command == "verify":
            # needs only the bundle and a key: no config, no database
            from vms.evidence.verify import verify_command

            return verify_command(args.bundle, args.cle)
        from vms.app import App
        from vms.config import load_config

        app = App(load_config(args.config), args.config)
        with app:
            return _dispatch(app, args)
    except VmsError as err:
        print(f"erreur : {err.message}", file=sys.stderr)
        if err.detail:
            log.debug("detail: %s", err.detail)
        return 2


def _dispatch(app: object, args: argparse.Namespace) -> int:
    from vms.app import App

    assert isinstance(app, App)
    if args.command == "serve":
        app.serve()
        _wait_for_signal()
        return 0
    if args.command == "web":
        app.start_web()
        _wait_for_signal()
        return 0
    if args.command == "worker":
        app.start_background()
        _wait_for_signal()
        return 0
    if args.command == "users":
        return _users(app, args)
    if args.command == "ingest":
        app.start_ingest()
        _wait_for_signal()
        return 0
    if args.command == "analytics":
        if app.start_analytics() is None:
            print("erreur : analyse indisponible (modèle de détection absent)", file=sys.stderr)
            return 2
        _wait_for_signal()
        return 0
    if args.command == "migrate":
        app.database()
        print("migrations appliquées")
        return 0
    if args.command == "check":
        report = app.check(verify_hash=not args.no_hash)
        print(report.text())
        return 0 if report.ok else 1
    if args.command == "purge":
        print(app.purger().run_once().text())
        return 0
    if args.command == "repair":
        print(app.repairer().run_once().text())
        return 0
    if args.command == "keys":
        import json

        print(json.dumps(app.export_keys(args.tenant), indent=2))
        return 0
    if args.command == "hold":
        return app.hold_command(args)
    if args.command == "export":
        from vms.evidence.cli import export_command

        return export_command(app, args)
    if args.command == "transfer":
        from vms.evidence.cli import transfer_command

        return transfer_command(app, args)
    if args.command == "audit":
        return _audit(app, args)
    if args.command == "report":
        return _report(app, args)
    raise AssertionError(args.command)


def _users(app: object, args: argparse.Namespace) -> int:
    from vms.app import App
    from vms.db.seed import add_user, generate_password
    from vms.domain.access import Action, Grant
    from vms.errors import invalid
    from vms.security.passwords import PasswordHasher

    assert isinstance(app, App)
    grants: set[Grant] = set()
    for text in args.grant:
        action, _, where = text.partition("@")
        tenant, _, group = where.partition("/")
        if action not in Action._value2member_map_ or not tenant:
            raise invalid(f"Droit invalide « {text} » (attendu ACTION@TENANT[/GROUPE]).")
        grants.add(Grant(Action(action), tenant, group or None))
    password = generate_password()
    with app.database().connection() as conn:
        if args.tenant_kind:
            conn.execute(
                "INSERT INTO tenants (id, name, kind) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (args.tenant, args.tenant, args.tenant_kind),
            )
        try:
            add_user(
                conn, PasswordHasher(), login=args.login.lower(), display_name=args.name,
                role=args.role, tenant=args.tenant, grants=frozenset(grants),
                password=password, mfa_required=not args.no_mfa,
            )  # fmt: skip
        except Exception as err:
            import psycopg

            if isinstance(err, psycopg.Error):
                raise invalid(f"Compte refusé par la base : {err.diag.message_primary}") from err
            raise
    print(f"compte « {args.login} » créé ; mot de passe provisoire (à changer) : {password}")
    return 0


def _audit(app: object, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from vms.app import App
    from vms.db import audit

    assert isinstance(app, App)
    with app.database().connection() as conn:
        if args.audit_command == "verify":
            count, broken = audit.verify(conn)
            if broken is None:
                print(f"journal d'audit intègre : {count} entrées vérifiées")
                return 0
            print(f"journal d'audit ROMPU à l'entrée n° {broken.seq} : {broken.reason}")
            return 1
        months = app.config.web.audit_retention_months
        before = datetime.now(UTC) - timedelta(days=round(months * 30.44))
        purged = audit.purge(conn, before)
        print(f"{purged} entrées d'audit antérieures au {before:%Y-%m-%d} détruites")
        return 0


def _report(app: object, args: argparse.Namespace) -> int:
    from vms.app import App
    from vms.reports.commands import ReportRequest, run

    assert isinstance(app, App)
    command = args.report_command
    if command == "destruction":
        from vms.reports.destruction import DestructionRequest, destroy

        request_d = DestructionRequest(
            args.tenant, args.archive, args.confirmer, simulation=args.simulation, actor="cli"
        )
        configured = [c.id for c in app.config.cameras if c.tenant == args.tenant]
        result = destroy(
            app.database(), app.stores(), app.clock, app.export_dir, request_d, configured
        )
        print(result.text())
        return 0
    if command == "mensuel":
        request = ReportRequest("mensuel", month=args.mois)
    elif command == "reversibilite":
        request = ReportRequest("reversibilite", tenant=args.tenant, out=args.out)
    else:
        if not args.mois and (args.debut is None or args.fin is None):
            print("erreur : précisez --mois ou --debut et --fin", file=sys.stderr)
            return 2
        request = ReportRequest(
            args.report_kind, since=args.debut, until=args.fin, month=args.mois,
            tenant=args.commune, step=getattr(args, "pas", "jour"), out=args.out,
        )  # fmt: skip
    try:
        print(run(app.dsn(), app.clock, request, "cli"), end="")
    except ValueError as err:
        print(f"erreur : {err}", file=sys.stderr)
        return 2
    if request.out is not None or command == "mensuel":
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
