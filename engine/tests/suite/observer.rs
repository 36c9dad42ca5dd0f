//! The observer interface autograd offers debugging tools: what is announced, when, and that
//! an observer stops hearing anything once its guard is dropped.

use std::cell::RefCell;
use std::rc::Rc;

use engine::autograd::observer::{observe, Observer, Recorded};
use engine::autograd::{InputGrads, Node};
use engine::Tensor;

#[derive(Default)]
struct Log(RefCell<Vec<String>>);

impl Observer<f64> for Log {
    fn on_record(&self, event: &Recorded<'_, f64>) {
        let tag = if event.in_backward_rule {
            " (in rule)"
        } else {
            ""
        };
        self.0
            .borrow_mut()
            .push(format!("record {}{tag}", event.op.name()));
    }
    fn before_rule(&self, node: &Node<f64>, _: &Tensor<f64>, _: &Tensor<f64>) {
        self.0
            .borrow_mut()
            .push(format!("before {}", node.op().name()));
    }
    fn after_rule(&self, t: &Tensor<f64>, _: &Tensor<f64>, grads: Option<&InputGrads<f64>>) {
        let what = t.grad_fn().map_or("leaf", |n| n.op().name());
        let n = grads.map_or(0, |g| g.len());
        self.0
            .borrow_mut()
            .push(format!("after {what} ({n} grads)"));
    }
}

#[test]
fn observers_hear_records_and_every_rule_until_their_guard_drops() {
    let log = Rc::new(Log::default());
    let x = Tensor::<f64>::parameter(vec![1.0, 2.0], &[2]);
    {
        let _guard = observe::<f64>(log.clone());
        let y = x.exp().sum();
        y.backward();
    }
    let seen = log.0.borrow().clone();
    // The rules' own arithmetic is announced too, marked as such, between before and after.
    let outside: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|e| !e.ends_with("(in rule)"))
        .collect();
    assert_eq!(
        outside,
        [
            "record exp",
            "record sum",
            "before sum",
            "after sum (1 grads)",
            "before exp",
            "after exp (1 grads)",
            "after leaf (0 grads)",
        ],
        "{seen:#?}"
    );
    let position = |e: &str| seen.iter().position(|s| s == e).unwrap();
    let rule_mul = position("record mul (in rule)");
    assert!(position("before exp") < rule_mul && rule_mul < position("after exp (1 grads)"));
    // Removed with its guard: nothing more is heard.
    let before = log.0.borrow().len();
    x.exp().sum().backward();
    assert_eq!(log.0.borrow().len(), before);
}

#[test]
fn observers_of_another_element_type_hear_nothing() {
    let log = Rc::new(Log::default());
    let _guard = observe::<f64>(log.clone());
    let x = Tensor::<f32>::parameter(vec![1.0], &[1]);
    x.exp().sum().backward();
    assert!(log.0.borrow().is_empty());
}
