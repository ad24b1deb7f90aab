"""Primary measures (EYFSP, phonics; KS1 and KS2 to come): each pupil's outcomes read through the year's
assessment framework (keystage.core.reference.frameworks), then shares and means per school and pupil
group (keystage.core.measures.group_figures)."""
