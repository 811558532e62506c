"""All models, imported here so Alembic and the app see one complete metadata."""

from app.models.activity import ActivityEvent  # noqa: F401
from app.models.attempt import Attempt, AttemptItem  # noqa: F401
from app.models.cohort import Cohort, CohortAssignment, CohortMember  # noqa: F401
from app.models.exam import Exam, ExamAttempt, ExamGrade  # noqa: F401
from app.models.job import Job, JobStatus  # noqa: F401
from app.models.lab import Grade, Lab, LabSession  # noqa: F401
from app.models.question import Bank, Question  # noqa: F401
from app.models.quiz import Quiz  # noqa: F401
from app.models.staff import DueDateExtension, Invitation, QuizAllowance, StaffAction  # noqa: F401
from app.models.user import ApiToken, LoginFailure, Role, User  # noqa: F401
from app.models.workstation import ExamWorkstation, LabWorkstation  # noqa: F401
