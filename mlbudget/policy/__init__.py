from mlbudget.policy.plan import Plan, PlannedAction, make_plan

__all__ = ["Plan", "PlannedAction", "make_plan"]
