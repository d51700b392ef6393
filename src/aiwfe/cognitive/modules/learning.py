"""Learning: feedback on outcomes, and statistics and patterns over feedback and past runs."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError

from aiwfe.cognitive.base import CognitiveError, Module
from aiwfe.cognitive.resources import Resources
from aiwfe.cognitive.schemas import FeedbackRequest, FeedbackResponse, StatsRequest
from aiwfe.core.models import Feedback, WorkflowRun, WorkflowStep


@dataclass(frozen=True)
class FeedbackRow:
    subject: str
    outcome: str
    rating: int | None
    tags: tuple[str, ...] = ()


def wilson_lower_bound(successes: float, total: int, z: float = 1.96) -> float:
    """Lower bound of the Wilson score interval: a success rate that is honest about small n."""
    if total <= 0:
        return 0.0
    p = successes / total
    denominator = 1 + z * z / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt((p * (1 - p) + z * z / (4 * total)) / total)
    return max(0.0, (centre - margin) / denominator)


def summarise(rows: Iterable[FeedbackRow]) -> dict[str, Any]:
    """Per-subject counts, success rate (partial counts half), Wilson bound, mean rating;
    plus tags that co-occur with failures more than with successes (patterns)."""
    by_subject: dict[str, list[FeedbackRow]] = defaultdict(list)
    tag_outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    outcomes: Counter[str] = Counter()
    all_rows = list(rows)
    for row in all_rows:
        by_subject[row.subject].append(row)
        outcomes[row.outcome] += 1
        for tag in row.tags:
            tag_outcomes[tag][row.outcome] += 1

    def rate(items: list[FeedbackRow]) -> tuple[float, float]:
        wins = sum(
            1.0 if r.outcome == "success" else 0.5 if r.outcome == "partial" else 0.0 for r in items
        )
        return (wins / len(items) if items else 0.0), wilson_lower_bound(wins, len(items))

    subjects = []
    for subject in sorted(by_subject):
        items = by_subject[subject]
        success_rate, lower = rate(items)
        ratings = [r.rating for r in items if r.rating is not None]
        subjects.append(
            {
                "subject": subject,
                "count": len(items),
                "success_rate": round(success_rate, 6),
                "success_lower_bound": round(lower, 6),
                "mean_rating": round(sum(ratings) / len(ratings), 6) if ratings else None,
            }
        )
    patterns = []
    for tag, counts in sorted(tag_outcomes.items()):
        total = sum(counts.values())
        failure_share = counts["failure"] / total
        if total >= 2 and failure_share >= 0.5:
            patterns.append({"tag": tag, "count": total, "failure_rate": round(failure_share, 6)})
    patterns.sort(key=lambda p: (-p["failure_rate"], -p["count"], p["tag"]))
    overall_rate, overall_lower = rate(all_rows)
    return {
        "total": len(all_rows),
        "by_outcome": dict(sorted(outcomes.items())),
        "success_rate": round(overall_rate, 6),
        "success_lower_bound": round(overall_lower, 6),
        "subjects": subjects,
        "failure_patterns": patterns,
    }


class LearningModule(Module):
    name = "learning"

    def __init__(self, resources: Resources) -> None:
        super().__init__()
        self.resources = resources
        self.op("feedback", FeedbackRequest, self.feedback)
        self.op("stats", StatsRequest, self.stats)

    async def feedback(self, request: FeedbackRequest) -> FeedbackResponse:
        row = Feedback(
            subject=request.subject,
            outcome=request.outcome,
            rating=request.rating,
            comment=request.comment,
            tags=request.tags,
            run_id=request.run_id,
            owner_id=request.owner,
        )
        try:
            async with self.resources.sessions() as session, session.begin():
                session.add(row)
        except IntegrityError as exc:
            raise CognitiveError(422, "run_id does not name a workflow run") from exc
        return FeedbackResponse(id=row.id, subject=row.subject, outcome=row.outcome)

    async def stats(self, request: StatsRequest) -> dict[str, Any]:
        async with self.resources.sessions() as session:
            query = select(Feedback.subject, Feedback.outcome, Feedback.rating, Feedback.tags)
            if request.subject:
                query = query.where(Feedback.subject == request.subject)
            # Owner set: that user's feedback and runs only; None: everyone's (admins).
            mine = WorkflowRun.owner_id == request.owner if request.owner else true()
            if request.owner:
                query = query.where(Feedback.owner_id == request.owner)
            rows = [
                FeedbackRow(s, o, r, tuple(t or ())) for s, o, r, t in await session.execute(query)
            ]
            run_rows = await session.execute(
                select(
                    WorkflowRun.name,
                    WorkflowRun.status,
                    func.count(),
                    func.avg(
                        func.extract("epoch", WorkflowRun.finished_at - WorkflowRun.started_at)
                    ),
                )
                .where(mine)
                .group_by(WorkflowRun.name, WorkflowRun.status)
            )
            step_rows = await session.execute(
                select(WorkflowStep.type, WorkflowStep.status, func.count())
                .join(WorkflowRun, WorkflowRun.id == WorkflowStep.run_id)
                .where(mine)
                .group_by(WorkflowStep.type, WorkflowStep.status)
            )
            runs: dict[str, dict[str, Any]] = defaultdict(lambda: {"by_status": {}})
            for name, status, count, duration in run_rows:
                runs[name]["by_status"][status] = count
                if status == "succeeded" and duration is not None:
                    runs[name]["mean_duration_s"] = round(float(duration), 3)
            steps: dict[str, dict[str, int]] = defaultdict(dict)
            for step_type, status, count in step_rows:
                steps[step_type][status] = count
        return {
            "feedback": summarise(rows),
            "workflows": dict(sorted(runs.items())),
            "steps": dict(sorted(steps.items())),
        }

    async def ready(self) -> None:
        from aiwfe.core.db import ping

        await ping(self.resources.engine)
