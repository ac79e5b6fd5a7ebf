# Source: /work/shared/bench/authz_world.py (the lead's shared benchmark world for issue 5), copied unchanged below this line.
#!/usr/bin/env python3
"""
bench_authz.py - side-by-side single-thread decision throughput of cedarpy and
pycasbin on one equivalent, moderately sized RBAC policy (with role inheritance
and a few explicit deny rules), plus a hand-written Python set-lookup baseline.

Policy shape (defaults; all adjustable by flags):
  * 50 roles in a 3-level hierarchy: 5 top roles -> 15 mid roles -> 30 leaf roles.
    A leaf role inherits every grant of its mid role, which inherits its top role.
  * 5,000 users, each assigned 1-2 leaf roles.
  * 200 resource types x 4 actions (read, write, delete, share) = 800 permissions.
  * each role is granted --grants-per-role random (resource type, action) pairs
    (default 40, i.e. 2,000 allow rules), plus --deny-rules explicit deny rules
    (default 20) attached to mid roles.  Deny overrides allow; default deny.
  * 100,000 random (user, resource type, action) requests, generated up front.

Engines measured (each --runs times, default 3; the table reports the median):
  baseline         plain Python: precomputed role closure + set lookups
  casbin-fast      casbin.FastEnforcer indexed on (obj, act)  [all requests]
  casbin           casbin.Enforcer, linear matcher over all p rules
                   [only the first --casbin-plain-n requests: it is ~ms/op]
  cedar            cedarpy.is_authorized, one call per request, with a
                   pre-parsed PolicySet and Entities handle
  cedar-batch      cedarpy.is_authorized_batch, --batch requests per call
  cedar-grouped    as "cedar" but one policy per (role, action) using
                   `when { resource in [...] }` (fewer, larger policies)
  cedar-attr       grants moved from policies into entity data: each ResType
                   entity carries <action>_allow / <action>_deny sets of Roles and
                   8 policies do `principal in resource.read_allow` etc.
                   (the "index by resource" idiom; same decisions)
  cedar-unparsed   is_authorized with policy/entity *strings* (re-parsed on
                   every call, the naive use) [first --cedar-unparsed-n requests]

Every engine's decisions are checked against the baseline; mismatches are
reported, so the "equivalent policy" claim is verified, not assumed.

Usage:
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install cedarpy casbin
  .venv-bench/bin/python authz_world.py            # defaults
  .venv-bench/bin/python authz_world.py --help
Generated policy artifacts (casbin model/CSV, Cedar policies/entities/schema)
are written to --out (default ./authz_world_out) for inspection.
"""
import argparse
import json
import os
import platform
import random
import statistics
import sys
import time

import casbin
import cedarpy

ACTIONS = ["read", "write", "delete", "share"]

CASBIN_MODEL = """\
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.obj == p.obj && r.act == p.act && g(r.sub, p.sub)
"""


# --------------------------------------------------------------------------
# policy generation (deterministic for a given --seed)
# --------------------------------------------------------------------------
def build_world(a):
    rnd = random.Random(a.seed)
    top = [f"top{i}" for i in range(a.top_roles)]
    mid, leaf, parent = [], [], {}
    for t in top:
        for j in range(a.mids_per_top):
            m = f"{t}_mid{j}"
            mid.append(m)
            parent[m] = t
            for k in range(a.leaves_per_mid):
                l = f"{m}_leaf{k}"
                leaf.append(l)
                parent[l] = m
    roles = top + mid + leaf
    rtypes = [f"rt{i}" for i in range(a.resource_types)]
    perms = [(rt, act) for rt in rtypes for act in ACTIONS]

    grants = {r: set(rnd.sample(perms, min(a.grants_per_role, len(perms)))) for r in roles}
    denies = set()
    while len(denies) < a.deny_rules:
        denies.add((rnd.choice(mid),) + rnd.choice(perms))

    users = [f"u{i}" for i in range(a.users)]
    user_roles = {u: rnd.sample(leaf, rnd.choice([1, 2])) for u in users}

    reqs = [(rnd.choice(users), rnd.choice(rtypes), rnd.choice(ACTIONS)) for _ in range(a.requests)]
    return dict(roles=roles, parent=parent, rtypes=rtypes, grants=grants,
                denies=denies, users=users, user_roles=user_roles, reqs=reqs)


def closure(role, parent):
    out = [role]
    while role in parent:
        role = parent[role]
        out.append(role)
    return out


# --------------------------------------------------------------------------
# engines
# --------------------------------------------------------------------------
def make_baseline(w):
    eff = {u: {x for r in rs for x in closure(r, w["parent"])} for u, rs in w["user_roles"].items()}
    allow = {}
    for r, g in w["grants"].items():
        for rt, act in g:
            allow.setdefault((rt, act), set()).add(r)
    deny = {}
    for r, rt, act in w["denies"]:
        deny.setdefault((rt, act), set()).add(r)

    def decide(u, rt, act):
        roles = eff[u]
        k = (rt, act)
        if roles & deny.get(k, set()):
            return False
        return bool(roles & allow.get(k, set()))
    return decide


def write_casbin(w, out):
    mpath = os.path.join(out, "rbac_model.conf")
    ppath = os.path.join(out, "rbac_policy.csv")
    with open(mpath, "w") as f:
        f.write(CASBIN_MODEL)
    with open(ppath, "w") as f:
        for r in w["roles"]:
            for rt, act in sorted(w["grants"][r]):
                f.write(f"p, {r}, {rt}, {act}, allow\n")
        for r, rt, act in sorted(w["denies"]):
            f.write(f"p, {r}, {rt}, {act}, deny\n")
        for child, par in w["parent"].items():
            f.write(f"g, {child}, {par}\n")
        for u, rs in w["user_roles"].items():
            for r in rs:
                f.write(f"g, {u}, {r}\n")
    return mpath, ppath


def cedar_docs(w, grouped=False):
    """Return (policy_text, entities_json_str, schema_dict)."""
    pol = []
    if not grouped:
        for r in w["roles"]:
            for rt, act in sorted(w["grants"][r]):
                pol.append(f'permit(principal in Role::"{r}", action == Action::"{act}", '
                           f'resource == ResType::"{rt}");')
    else:
        for r in w["roles"]:
            by_act = {}
            for rt, act in w["grants"][r]:
                by_act.setdefault(act, []).append(rt)
            for act, rts in sorted(by_act.items()):
                lst = ", ".join(f'ResType::"{rt}"' for rt in sorted(rts))
                pol.append(f'permit(principal in Role::"{r}", action == Action::"{act}", resource)\n'
                           f'  when {{ resource in [{lst}] }};')
    for r, rt, act in sorted(w["denies"]):
        pol.append(f'forbid(principal in Role::"{r}", action == Action::"{act}", '
                   f'resource == ResType::"{rt}");')
    ents = []
    for r in w["roles"]:
        ps = [{"type": "Role", "id": w["parent"][r]}] if r in w["parent"] else []
        ents.append({"uid": {"type": "Role", "id": r}, "attrs": {}, "parents": ps})
    for u, rs in w["user_roles"].items():
        ents.append({"uid": {"type": "User", "id": u}, "attrs": {},
                     "parents": [{"type": "Role", "id": r} for r in rs]})
    for rt in w["rtypes"]:
        ents.append({"uid": {"type": "ResType", "id": rt}, "attrs": {}, "parents": []})
    schema = {"": {
        "entityTypes": {
            "User": {"memberOfTypes": ["Role"]},
            "Role": {"memberOfTypes": ["Role"]},
            "ResType": {},
        },
        "actions": {a: {"appliesTo": {"principalTypes": ["User"], "resourceTypes": ["ResType"]}}
                    for a in ACTIONS},
    }}
    return "\n".join(pol) + "\n", json.dumps(ents), schema


def cedar_attr_docs(w):
    """Grants as entity data: ResType attrs <act>_allow/<act>_deny = Set<Role>."""
    pol = []
    for act in ACTIONS:
        pol.append(f'permit(principal, action == Action::"{act}", resource)\n'
                   f'  when {{ principal in resource.{act}_allow }};')
        pol.append(f'forbid(principal, action == Action::"{act}", resource)\n'
                   f'  when {{ principal in resource.{act}_deny }};')
    attrs = {rt: {f"{a}_{k}": [] for a in ACTIONS for k in ("allow", "deny")} for rt in w["rtypes"]}
    for r in w["roles"]:
        for rt, act in w["grants"][r]:
            attrs[rt][f"{act}_allow"].append({"__entity": {"type": "Role", "id": r}})
    for r, rt, act in w["denies"]:
        attrs[rt][f"{act}_deny"].append({"__entity": {"type": "Role", "id": r}})
    ents = []
    for r in w["roles"]:
        ps = [{"type": "Role", "id": w["parent"][r]}] if r in w["parent"] else []
        ents.append({"uid": {"type": "Role", "id": r}, "attrs": {}, "parents": ps})
    for u, rs in w["user_roles"].items():
        ents.append({"uid": {"type": "User", "id": u}, "attrs": {},
                     "parents": [{"type": "Role", "id": r} for r in rs]})
    for rt in w["rtypes"]:
        ents.append({"uid": {"type": "ResType", "id": rt}, "attrs": attrs[rt], "parents": []})
    set_role = {"type": "Set", "element": {"type": "Entity", "name": "Role"}}
    schema = {"": {
        "entityTypes": {
            "User": {"memberOfTypes": ["Role"]},
            "Role": {"memberOfTypes": ["Role"]},
            "ResType": {"shape": {"type": "Record", "attributes": {
                f"{a}_{k}": set_role for a in ACTIONS for k in ("allow", "deny")}}},
        },
        "actions": {a: {"appliesTo": {"principalTypes": ["User"], "resourceTypes": ["ResType"]}}
                    for a in ACTIONS},
    }}
    return "\n".join(pol) + "\n", json.dumps(ents), schema


def cedar_requests(reqs):
    # dict-form UIDs and no context key: measured ~40 us/call cheaper in cedarpy 4.12
    # than 'User::"u1"' strings, which go through Cedar's parser on every request.
    return [{"principal": {"type": "User", "id": u}, "action": {"type": "Action", "id": act},
             "resource": {"type": "ResType", "id": rt}} for u, rt, act in reqs]


# --------------------------------------------------------------------------
# timing helpers
# --------------------------------------------------------------------------
def timed(fn):
    t0 = time.perf_counter()
    res = fn()
    return time.perf_counter() - t0, res


def run_engine(name, fn, n, runs, expected, results):
    """fn() -> list (bools, or cedarpy AuthzResults) for the first n requests.
    Only fn() is timed; converting results to bools happens afterwards."""
    secs, mism, core = [], None, None
    for _ in range(runs):
        dt, out = timed(fn)
        secs.append(dt)
        if out and isinstance(out[0], cedarpy.AuthzResult):
            core = statistics.median(r.metrics.get("authz_duration_micros", float("nan")) for r in out)
            dec = [r.allowed for r in out]
        else:
            dec = out
        mism = sum(1 for a, b in zip(dec, expected[:n]) if a != b)
        del out, dec
    med = statistics.median(secs)
    results.append(dict(engine=name, n=n, med_s=med, min_s=min(secs), max_s=max(secs),
                        dps=n / med, us=1e6 * med / n, mismatches=mism, core_us=core,
                        allow_rate=sum(expected[:n]) / n))
    print(f"  {name:<15} n={n:>7}  median {med:8.3f}s  -> {n / med:>12,.0f} decisions/s  "
          f"(runs: {', '.join(f'{s:.3f}' for s in secs)})  mismatches={mism}"
          + (f"  cedar-core median {core} us" if core is not None else ""), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--top-roles", type=int, default=5)
    ap.add_argument("--mids-per-top", type=int, default=3)
    ap.add_argument("--leaves-per-mid", type=int, default=2)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--resource-types", type=int, default=200)
    ap.add_argument("--grants-per-role", type=int, default=40)
    ap.add_argument("--deny-rules", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1000, help="requests per is_authorized_batch call")
    ap.add_argument("--casbin-plain-n", type=int, default=2000,
                    help="requests timed for the unindexed casbin.Enforcer (0 = skip, -1 = all)")
    ap.add_argument("--cedar-unparsed-n", type=int, default=200,
                    help="requests timed for cedar with re-parsed strings (0 = skip)")
    ap.add_argument("--cedar-n", type=int, default=-1,
                    help="requests timed for cedar, cedar-batch, cedar-grouped (-1 = all)")
    ap.add_argument("--skip", default="", help="comma list of engines to skip")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="authz_world_out")
    ap.add_argument("--json", help="also write results as JSON to this path")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    os.makedirs(a.out, exist_ok=True)

    print(f"python {platform.python_version()} on {platform.machine()} / {platform.platform()}; "
          f"cpus={os.cpu_count()}; casbin {getattr(casbin, '__version__', '?')}; "
          f"cedarpy {getattr(cedarpy, '__version__', '?')}", flush=True)
    try:
        from importlib.metadata import version
        print(f"installed: casbin=={version('casbin')} cedarpy=={version('cedarpy')} "
              f"simpleeval=={version('simpleeval')}", flush=True)
    except Exception:
        pass

    w = build_world(a)
    reqs, N = w["reqs"], len(w["reqs"])
    n_allow = sum(len(g) for g in w["grants"].values())
    print(f"world: {len(w['roles'])} roles (3 levels), {len(w['users'])} users, "
          f"{len(w['rtypes'])} resource types x {len(ACTIONS)} actions, "
          f"{n_allow} allow rules + {len(w['denies'])} deny rules, {N} requests", flush=True)

    base = make_baseline(w)
    expected = [base(*r) for r in reqs]
    print(f"allow rate of the request mix: {sum(expected) / N:.1%}", flush=True)
    results, setup = [], {}

    if "baseline" not in skip:
        run_engine("baseline", lambda: [base(*r) for r in reqs], N, a.runs, expected, results)

    # ---- casbin ----------------------------------------------------------
    mpath, ppath = write_casbin(w, a.out)
    if "casbin-fast" not in skip:
        t, ef = timed(lambda: casbin.FastEnforcer(mpath, ppath, cache_key_order=[1, 2]))
        setup["casbin-fast load (model+CSV, role links)"] = t
        enf = ef.enforce
        run_engine("casbin-fast", lambda: [enf(*r) for r in reqs], N, a.runs, expected, results)
    if "casbin" not in skip and a.casbin_plain_n != 0:
        t, e = timed(lambda: casbin.Enforcer(mpath, ppath))
        setup["casbin load (model+CSV, role links)"] = t
        n = N if a.casbin_plain_n < 0 else min(a.casbin_plain_n, N)
        sub = reqs[:n]
        enf2 = e.enforce
        run_engine("casbin", lambda: [enf2(*r) for r in sub], n, a.runs, expected, results)

    # ---- cedar -----------------------------------------------------------
    creqs = cedar_requests(reqs)
    pol_text, ents_json, schema = cedar_docs(w)
    with open(os.path.join(a.out, "policies.cedar"), "w") as f:
        f.write(pol_text)
    with open(os.path.join(a.out, "entities.json"), "w") as f:
        f.write(ents_json)
    with open(os.path.join(a.out, "schema.cedarschema.json"), "w") as f:
        json.dump(schema, f, indent=1)
    t, vr = timed(lambda: cedarpy.validate_policies(pol_text, schema))
    setup[f"cedar validate {pol_text.count(';')} policies vs schema (passed={vr.validation_passed})"] = t
    t, ps = timed(lambda: cedarpy.PolicySet.from_str(pol_text))
    setup["cedar PolicySet.from_str"] = t
    t, es = timed(lambda: cedarpy.Entities.from_json_str(ents_json))
    setup[f"cedar Entities.from_json_str ({len(es)} entities)"] = t

    CN = N if a.cedar_n < 0 else min(a.cedar_n, N)
    csub = creqs[:CN]
    if "cedar" not in skip:
        isa = cedarpy.is_authorized
        run_engine("cedar", lambda: [isa(q, ps, es) for q in csub], CN, a.runs, expected, results)
    if "cedar-batch" not in skip:
        B = a.batch

        def batch():
            out = []
            for i in range(0, CN, B):
                out.extend(cedarpy.is_authorized_batch(csub[i:i + B], ps, es))
            return out
        run_engine(f"cedar-batch{B}", batch, CN, a.runs, expected, results)
    if "cedar-grouped" not in skip:
        gtext, _, _ = cedar_docs(w, grouped=True)
        with open(os.path.join(a.out, "policies_grouped.cedar"), "w") as f:
            f.write(gtext)
        t, vr2 = timed(lambda: cedarpy.validate_policies(gtext, schema))
        setup[f"cedar validate grouped {gtext.count(';')} policies (passed={vr2.validation_passed})"] = t
        gps = cedarpy.PolicySet.from_str(gtext)
        isa = cedarpy.is_authorized
        run_engine("cedar-grouped", lambda: [isa(q, gps, es) for q in csub], CN, a.runs,
                   expected, results)
    if "cedar-attr" not in skip:
        atext, aents, aschema = cedar_attr_docs(w)
        with open(os.path.join(a.out, "policies_attr.cedar"), "w") as f:
            f.write(atext)
        with open(os.path.join(a.out, "entities_attr.json"), "w") as f:
            f.write(aents)
        t, vr3 = timed(lambda: cedarpy.validate_policies(atext, aschema))
        setup[f"cedar validate attr-style {atext.count(';')} policies (passed={vr3.validation_passed})"] = t
        aps = cedarpy.PolicySet.from_str(atext)
        t, aes = timed(lambda: cedarpy.Entities.from_json_str(aents, aschema))
        setup["cedar Entities.from_json_str attr-style, schema-checked"] = t
        isa = cedarpy.is_authorized
        run_engine("cedar-attr", lambda: [isa(q, aps, aes) for q in creqs], N, a.runs,
                   expected, results)
    if "cedar-unparsed" not in skip and a.cedar_unparsed_n > 0:
        n = min(a.cedar_unparsed_n, N)
        sub = creqs[:n]
        isa = cedarpy.is_authorized
        run_engine("cedar-unparsed", lambda: [isa(q, pol_text, ents_json) for q in sub], n,
                   a.runs, expected, results)

    # ---- explanation sample (which policy matched) ------------------------
    i = expected.index(True)
    r = cedarpy.is_authorized(creqs[i], ps, es)
    print(f"\nexplain sample: cedar {reqs[i]} -> {r.decision.value}, reasons={r.diagnostics.reasons}")
    if "casbin-fast" not in skip:
        print(f"explain sample: casbin {reqs[i]} -> {ef.enforce_ex(*reqs[i])}")

    # ---- report ------------------------------------------------------------
    print("\nsetup (single run):")
    for k, v in setup.items():
        print(f"  {k:<62} {v * 1000:9.1f} ms")
    print(f"\nmedian of {a.runs} runs, single thread. 'cedar core us' = cedarpy's own "
          "authz_duration_micros metric, i.e. time inside Cedar's Rust Authorizer::is_authorized:")
    print("| engine | requests timed | median s | decisions/s | us/decision | min..max s | "
          "cedar core us (median) | mismatches vs baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        core = "" if r["core_us"] is None else f"{r['core_us']:g}"
        print(f"| {r['engine']} | {r['n']:,} | {r['med_s']:.3f} | {r['dps']:,.0f} | {r['us']:.1f} | "
              f"{r['min_s']:.3f}..{r['max_s']:.3f} | {core} | {r['mismatches']} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(args=vars(a), setup_s=setup, results=results), f, indent=1)


if __name__ == "__main__":
    main()
