"""Submission drafts: a citizen's answers kept server-side between the steps of a submission, saved and resumed
later by a link (`/nop-tiep/<token>`) until the dossier is submitted or the draft expires (30 days)."""
