"""The project library: every project and every render ("take") a creator makes, kept in a user
data folder so nothing is lost between sessions or restarts.

Layout under `root`:

    library.sqlite                       projects and takes (metadata only)
    projects/<project_id>/portrait.<ext> copies of the inputs (the originals may move or vanish)
    projects/<project_id>/speech.<ext>
    projects/<project_id>/project.json   the latest state of the project, with all its edits
    projects/<project_id>/takes/<take_id>/{take.mp4, project.json, motion.csv, thumb.png}

Takes are numbered within their project (1, 2, 3, … never reused after a deletion), so that a
creator can name them and their downloads can carry the project's name and the take's number.

Each call opens its own SQLite connection, so the library can be used from Gradio's worker
threads; writes are short transactions.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pipelines.project import Project

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    takes_made INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS takes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    created REAL NOT NULL,
    label TEXT NOT NULL,
    duration REAL NOT NULL,
    number INTEGER
);
"""


@dataclass(frozen=True)
class ProjectEntry:
    id: str
    name: str
    created: float
    updated: float
    folder: Path
    takes: int = 0

    @property
    def project_path(self) -> Path:
        return self.folder / "project.json"


@dataclass(frozen=True)
class TakeEntry:
    id: str
    project_id: str
    created: float
    label: str
    duration: float
    folder: Path
    number: int = 0
    project_name: str = ""

    @property
    def video(self) -> Path:
        return self.folder / "take.mp4"

    @property
    def project_path(self) -> Path:
        return self.folder / "project.json"

    @property
    def motion_csv(self) -> Path:
        return self.folder / "motion.csv"

    @property
    def thumbnail(self) -> Path:
        return self.folder / "thumb.png"

    @property
    def title(self) -> str:
        when = time.strftime('%Y-%m-%d %H:%M', time.localtime(self.created))
        return f"Take {self.number} · {when} · {self.label}"

    @property
    def file_stem(self) -> str:
        """What its downloads are called: the project's name and the take's number."""
        return f"{file_name_part(self.project_name) or 'project'}-take{self.number}"


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def file_name_part(text: str) -> str:
    """`text` as a safe, readable part of a file name ("Hopper + speech" -> "Hopper-speech")."""
    return re.sub(r"[^\w.]+", "-", text, flags=re.UNICODE).strip("-.")[:60]


class Library:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        (self.root / "projects").mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)
            self._number_old_takes(db)

    @staticmethod
    def _number_old_takes(db: sqlite3.Connection) -> None:
        """Libraries written before takes were numbered get numbers in the order of creation."""
        if "number" not in _columns(db, "takes"):
            db.execute("ALTER TABLE takes ADD COLUMN number INTEGER")
        if "takes_made" not in _columns(db, "projects"):
            db.execute("ALTER TABLE projects ADD COLUMN takes_made INTEGER NOT NULL DEFAULT 0")
        unnumbered = db.execute("SELECT id, project_id FROM takes WHERE number IS NULL "
                                "ORDER BY created").fetchall()
        for take_id, project_id in unnumbered:
            db.execute("UPDATE takes SET number = (SELECT COALESCE(MAX(number), 0) + 1 FROM takes "
                       "WHERE project_id = ?) WHERE id = ?", (project_id, take_id))
        db.execute("UPDATE projects SET takes_made = MAX(takes_made, (SELECT COALESCE(MAX(number), "
                   "0) FROM takes WHERE takes.project_id = projects.id))")

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.root / "library.sqlite", timeout=30)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _folder(self, project_id: str) -> Path:
        return self.root / "projects" / project_id

    # ------------------------------------------------------------------ projects
    def create_project(self, project: Project, name: str) -> tuple[str, Project]:
        """Copies the project's media into the library and stores it. Returns (id, the project
        pointing at the copies)."""
        project_id = uuid.uuid4().hex[:12]
        folder = self._folder(project_id)
        folder.mkdir(parents=True)
        try:
            portrait = folder / ("portrait" + Path(project.portrait.path).suffix.lower())
            speech = folder / ("speech" + Path(project.audio.path).suffix.lower())
            shutil.copyfile(project.portrait.path, portrait)
            shutil.copyfile(project.audio.path, speech)
            stored = project.replace(
                portrait=project.portrait.__class__(str(portrait), project.portrait.sha256),
                audio=project.audio.__class__(str(speech), project.audio.sha256))
            stored.save(folder / "project.json")
            now = time.time()
            with self._db() as db:
                db.execute("INSERT INTO projects (id, name, created, updated) VALUES (?, ?, ?, ?)",
                       (project_id, name, now, now))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return project_id, stored

    def save_project(self, project_id: str, project: Project) -> None:
        project.save(self._folder(project_id) / "project.json")
        with self._db() as db:
            db.execute("UPDATE projects SET updated = ? WHERE id = ?", (time.time(), project_id))

    def load_project(self, project_id: str) -> Project:
        return Project.load(self._folder(project_id) / "project.json")

    def projects(self) -> list[ProjectEntry]:
        with self._db() as db:
            rows = db.execute(
                "SELECT p.id, p.name, p.created, p.updated, COUNT(t.id) FROM projects p "
                "LEFT JOIN takes t ON t.project_id = p.id GROUP BY p.id ORDER BY p.updated DESC"
            ).fetchall()
        return [ProjectEntry(r[0], r[1], r[2], r[3], self._folder(r[0]), r[4]) for r in rows]

    def project(self, project_id: str) -> ProjectEntry | None:
        return next((p for p in self.projects() if p.id == project_id), None)

    def delete_project(self, project_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM takes WHERE project_id = ?", (project_id,))
            db.execute("DELETE FROM projects WHERE id = ?", (project_id,))
        shutil.rmtree(self._folder(project_id), ignore_errors=True)

    # --------------------------------------------------------------------- takes
    def add_take(self, project_id: str, project: Project, video: Path, label: str,
                 duration: float, motion_csv: Path | None = None,
                 thumbnail: Path | None = None) -> TakeEntry:
        """Moves a finished render into the library as a new take of `project_id`."""
        take_id = uuid.uuid4().hex[:12]
        folder = self._folder(project_id) / "takes" / take_id
        folder.mkdir(parents=True)
        try:
            shutil.move(str(video), folder / "take.mp4")
            project.save(folder / "project.json")
            if motion_csv is not None:
                shutil.move(str(motion_csv), folder / "motion.csv")
            if thumbnail is not None:
                shutil.move(str(thumbnail), folder / "thumb.png")
            now = time.time()
            with self._db() as db:
                # Counted per project, so a deleted take's number is never given again (its
                # downloads may still be on the creator's disk under that name).
                db.execute("UPDATE projects SET takes_made = takes_made + 1, updated = ? "
                           "WHERE id = ?", (now, project_id))
                (number,) = db.execute("SELECT takes_made FROM projects WHERE id = ?",
                                       (project_id,)).fetchone()
                db.execute("INSERT INTO takes (id, project_id, created, label, duration, number) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (take_id, project_id, now, label, duration, number))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.save_project(project_id, project)
        return self.take(take_id)

    def takes(self, project_id: str | None = None) -> list[TakeEntry]:
        """Newest first; only `project_id`'s when given."""
        query = ("SELECT t.id, t.project_id, t.created, t.label, t.duration, t.number, p.name "
                 "FROM takes t JOIN projects p ON p.id = t.project_id")
        args: tuple = ()
        if project_id is not None:
            query += " WHERE t.project_id = ?"
            args = (project_id,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY t.created DESC", args).fetchall()
        return [TakeEntry(r[0], r[1], r[2], r[3], r[4], self._folder(r[1]) / "takes" / r[0],
                          number=r[5] or 0, project_name=r[6]) for r in rows]

    def take(self, take_id: str) -> TakeEntry | None:
        return next((t for t in self.takes() if t.id == take_id), None)

    def delete_take(self, take_id: str) -> None:
        take = self.take(take_id)
        if take is None:
            return
        with self._db() as db:
            db.execute("DELETE FROM takes WHERE id = ?", (take_id,))
        shutil.rmtree(take.folder, ignore_errors=True)
