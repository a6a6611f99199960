//! The deppy-shaped constraint layer on its own (deppy v0.1.0 solve_test.go scenarios).

use std::time::{Duration, Instant};

use resolver::model::{
    Constraint, Problem, ProblemError, SolveError, SolveOptions, Variable, solve,
};

fn v(id: &str) -> Variable {
    Variable::new(id)
}

fn ids(problem: &Problem, selected: &[usize]) -> Vec<String> {
    selected
        .iter()
        .map(|&i| problem.variables[i].id.clone())
        .collect()
}

fn run(variables: Vec<Variable>) -> Result<Vec<String>, SolveError> {
    let problem = Problem { variables };
    solve(&problem, &SolveOptions::default()).map(|s| ids(&problem, &s))
}

#[test]
fn dependency_takes_the_first_candidate() {
    let got = run(vec![
        v("a")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["x1", "x2"]))
            .with(Constraint::dependency(["y1", "y2"])),
        v("x1"),
        v("x2"),
        v("y1"),
        v("y2"),
    ]);
    assert_eq!(got.expect("sat"), ["a", "x1", "y1"]);
}

#[test]
fn only_the_least_preferred_candidates_work() {
    let got = run(vec![
        v("a")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["a1", "a2"])),
        v("a1")
            .with(Constraint::conflict("c1"))
            .with(Constraint::conflict("c2")),
        v("a2").with(Constraint::conflict("c1")),
        v("b")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["b1", "b2"])),
        v("b1")
            .with(Constraint::conflict("c1"))
            .with(Constraint::conflict("c2")),
        v("b2").with(Constraint::conflict("c1")),
        v("c")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["c1", "c2"])),
        v("c1"),
        v("c2"),
    ]);
    assert_eq!(got.expect("sat"), ["a", "a2", "b", "b2", "c", "c2"]);
}

#[test]
fn unforced_variables_are_not_selected() {
    let got = run(vec![
        v("a").with(Constraint::mandatory()),
        v("b"),
        v("c").with(Constraint::dependency(["b"])),
    ]);
    assert_eq!(got.expect("sat"), ["a"]);
}

#[test]
fn prohibited_and_at_most() {
    let got = run(vec![
        v("a")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["x", "y", "z"])),
        v("x").with(Constraint::prohibited()),
        v("y"),
        v("z"),
    ]);
    assert_eq!(got.expect("sat"), ["a", "y"]);

    // AtMost(1) over variables that also share another group uses the slot encoding.
    let got = run(vec![
        v("r1")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["p1", "q1"])),
        v("r2")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["p2", "q1"])),
        v("p1"),
        v("p2"),
        v("q1"),
        v("pu").with(Constraint::at_most(1, ["p1", "p2"])),
        v("cross").with(Constraint::at_most(1, ["p1", "p2", "q1"])),
    ]);
    assert_eq!(got.expect("sat"), ["r1", "r2", "q1"]);

    // AtMost(2, …) allows two.
    let got = run(vec![
        v("r")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["x"]))
            .with(Constraint::dependency(["y"])),
        v("s")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["z", "x"])),
        v("x"),
        v("y"),
        v("z"),
        v("two").with(Constraint::at_most(2, ["x", "y", "z"])),
    ]);
    assert_eq!(got.expect("sat"), ["r", "s", "x", "y"]);

    // AtMost(0, …) forbids all.
    let err = run(vec![
        v("x").with(Constraint::mandatory()),
        v("none").with(Constraint::at_most(0, ["x"])),
    ])
    .expect_err("unsat");
    let SolveError::NotSatisfiable(ns) = err else {
        panic!("{err}")
    };
    assert_eq!(ns.lines, ["x is mandatory", "none permits at most 0 of x"]);
}

#[test]
fn or_clauses() {
    // (a ∨ b) with a prohibited → b.
    let got = run(vec![
        v("a")
            .with(Constraint::or("b", false, false))
            .with(Constraint::prohibited()),
        v("b"),
    ]);
    assert_eq!(got.expect("sat"), ["b"]);
    // ¬a ∨ ¬b with both mandatory → unsat.
    let err = run(vec![
        v("a")
            .with(Constraint::mandatory())
            .with(Constraint::or("b", true, true)),
        v("b").with(Constraint::mandatory()),
    ])
    .expect_err("unsat");
    let SolveError::NotSatisfiable(ns) = err else {
        panic!("{err}")
    };
    assert_eq!(
        ns.lines,
        ["a is mandatory", "b is mandatory", "not a or not b"]
    );
    // a ∨ ¬b: b mandatory forces a.
    let got = run(vec![
        v("a").with(Constraint::or("b", false, true)),
        v("b").with(Constraint::mandatory()),
    ]);
    assert_eq!(got.expect("sat"), ["a", "b"]);
}

#[test]
fn unsat_core_is_minimal_and_ordered() {
    let err = run(vec![
        v("a")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["x"])),
        v("b")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["y"])),
        v("c")
            .with(Constraint::mandatory())
            .with(Constraint::dependency(["z"])),
        v("x").with(Constraint::conflict("y")),
        v("y"),
        v("z"),
        v("w").with(Constraint::dependency([] as [&str; 0])),
    ])
    .expect_err("unsat");
    let SolveError::NotSatisfiable(ns) = err else {
        panic!("{err}")
    };
    assert!(ns.minimal);
    assert_eq!(
        ns.lines,
        [
            "a is mandatory",
            "b is mandatory",
            "a requires at least one of x",
            "b requires at least one of y",
            "x conflicts with y",
        ]
    );
    assert_eq!(
        ns.to_string(),
        "constraints not satisfiable:\na is mandatory\nb is mandatory\na requires at least one of x\nb requires at least one of y\nx conflicts with y"
    );
}

#[test]
fn empty_dependency_and_custom_messages() {
    let err =
        run(vec![
            v("a").with(Constraint::mandatory()).with(
                Constraint::dependency([] as [&str; 0])
                    .with_message("a needs something nobody provides"),
            ),
        ])
        .expect_err("unsat");
    let SolveError::NotSatisfiable(ns) = err else {
        panic!("{err}")
    };
    assert_eq!(
        ns.lines,
        ["a is mandatory", "a needs something nobody provides"]
    );
    let err = run(vec![
        v("a")
            .with(Constraint::mandatory())
            .with(Constraint::prohibited()),
    ])
    .expect_err("unsat");
    let SolveError::NotSatisfiable(ns) = err else {
        panic!("{err}")
    };
    assert_eq!(ns.lines, ["a is mandatory", "a is prohibited"]);
}

#[test]
fn malformed_problems() {
    assert_eq!(
        run(vec![v("a"), v("a")]).expect_err("dup"),
        SolveError::Problem(ProblemError::DuplicateIdentifier("a".into()))
    );
    let err = run(vec![v("a").with(Constraint::dependency(["x", "y"]))]).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "2 errors encountered: variable \"x\" referenced but not provided, variable \"y\" referenced but not provided"
    );
}

#[test]
fn deadline_cancels() {
    let problem = Problem {
        variables: vec![v("a").with(Constraint::mandatory())],
    };
    let options = SolveOptions {
        deadline: Some(Instant::now() - Duration::from_millis(1)),
        minimise_budget: None,
    };
    assert_eq!(solve(&problem, &options), Err(SolveError::Cancelled));
}
