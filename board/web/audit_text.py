"""The audit log read as sentences, in the page's language: « Camille a masqué la réponse n° 7 (hors-sujet) »."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from board.domain.audit import AuditView
from board.domain.export import spreadsheet_safe
from board.web.i18n import N_, gettext
from board.web.render import REASON_LABELS

SENTENCES = {
    "approve": N_("%(who)s a publié la réponse n° %(answer)s"),
    "reject": N_("%(who)s a refusé la réponse n° %(answer)s"),
    "hide": N_("%(who)s a masqué la réponse n° %(answer)s"),
    "restore": N_("%(who)s a rétabli la réponse n° %(answer)s"),
    "pin": N_("%(who)s a épinglé la réponse n° %(answer)s"),
    "unpin": N_("%(who)s a désépinglé la réponse n° %(answer)s"),
    "merge": N_("%(who)s a fusionné la réponse n° %(answer)s avec la réponse n° %(into)s"),
    "ban": N_("%(who)s a suspendu l'auteur d'une réponse"),
    "settings": N_("%(who)s a changé les réglages : %(what)s"),
    "create-thread": N_("%(who)s a créé le fil « %(thread)s »"),
    "thread-open": N_("%(who)s a ouvert aux réponses le fil « %(thread)s »"),
    "thread-close": N_("%(who)s a fermé aux réponses le fil « %(thread)s »"),
    "thread-present": N_("%(who)s a affiché au projecteur le fil « %(thread)s »"),
    "thread-up": N_("%(who)s a monté le fil « %(thread)s » dans la liste des fils"),
    "thread-down": N_("%(who)s a descendu le fil « %(thread)s » dans la liste des fils"),
    "thread-edit": N_("%(who)s a modifié la question du fil « %(thread)s »"),
    "thread-timer": N_("%(who)s a réglé le minuteur du fil « %(thread)s » (%(label)s)"),
    "invite": N_("%(who)s a invité %(label)s (%(role)s)"),
    "withdraw": N_("%(who)s a retiré l'invitation de %(label)s (%(role)s)"),
    "join": N_("%(who)s a rejoint l'équipe (%(role)s)"),
    "revoke": N_("%(who)s a retiré son rôle à %(subject)s"),
    "logo-set": N_("%(who)s a changé le logo de l'événement"),
    "logo-remove": N_("%(who)s a retiré le logo de l'événement"),
    "event-create": N_("%(who)s a créé l'événement"),
    "event-edit": N_("%(who)s a modifié l'événement"),
    "event-draft": N_("%(who)s a remis l'événement en brouillon"),
    "event-open": N_("%(who)s a ouvert l'événement"),
    "event-closed": N_("%(who)s a clos l'événement"),
    "event-archived": N_("%(who)s a archivé l'événement"),
}
OTHER = N_("%(who)s : %(action)s %(target)s")
WITH_REASON = N_("%(sentence)s (%(reason)s)")
ROLES = {"moderator": N_("modération"), "facilitator": N_("animation"), "admin": N_("administration")}
SETTINGS = {
    "moderation=pre": N_("modération a priori"),
    "moderation=post": N_("modération a posteriori"),
    "voting=agree-disagree": N_("vote d'accord / pas d'accord"),
    "voting=upvote": N_("vote par approbation seule"),
}
NO_NAME = N_("une personne sans nom")


def sentence(entry: AuditView, prompts: Mapping[int, str]) -> str:
    template = SENTENCES.get(entry.action)
    fields = {
        "who": entry.actor,
        "answer": entry.answer_id,
        "into": entry.into,
        "thread": prompts.get(entry.thread_id or 0, "?"),
        "subject": entry.subject or "?",
        "role": gettext(ROLES.get(entry.subject or "", "")) if entry.subject in ROLES else "",
        "label": entry.reason or gettext(NO_NAME),
        "what": ", ".join(gettext(SETTINGS.get(p.strip(), p.strip())) for p in entry.target.split(",")),
        "action": entry.action,
        "target": entry.target,
    }
    if template is None:
        return gettext(OTHER) % fields
    text = gettext(template) % fields
    if entry.reason and entry.action in ("reject", "hide"):
        reason = REASON_LABELS.get(entry.reason)
        text = gettext(WITH_REASON) % {
            "sentence": text,
            "reason": gettext(reason) if reason else entry.reason,
        }
    return text


def as_csv(entries: list[AuditView], prompts: Mapping[int, str], when: dict[int, str]) -> str:
    """Spreadsheet-ready (a byte-order mark for French Excel), one decision a row, the sentence last."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["at", "date", "who", "action", "target", "reason", "thread", "sentence"])
    for index, entry in enumerate(entries):
        writer.writerow(
            spreadsheet_safe(cell)
            for cell in [
                entry.created_at.isoformat(),
                when[index],
                entry.actor,
                entry.action,
                entry.target,
                entry.reason or "",
                entry.thread_id or "",
                sentence(entry, prompts),
            ]
        )
    return out.getvalue()
