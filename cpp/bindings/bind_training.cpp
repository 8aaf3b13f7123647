// Bindings of the training loop (cpp/lpgx/train.hpp): the stage configurations, a training
// run as a handle (records stay readable after an interrupt), one step from given responses,
// and the reward oracle for inspection.
#include "handles.hpp"
#include "lpgx/train.hpp"

namespace lpgx::bind {
namespace {

void check_estimator(const Estimator& e, const TrainConfig& cfg) {
  const int G = e.group_size;
  require(G >= 1, "group_size must be >= 1");
  require(e.kind != Estimator::kRLOO || G >= 2, "RLOO needs group_size >= 2 (a leave-one-out baseline)");
  require(e.kind != Estimator::kGRPO || e.scale != Estimator::kScaleGroup || G >= 2,
          "GRPO with scale='group' needs group_size >= 2 (a group standard deviation)");
  require(e.kind != Estimator::kPassAtK || (e.k >= 1 && G >= e.k + (e.baseline ? 1 : 0)),
          "PassAtK needs 1 <= k <= group_size (k < group_size with the leave-one-out baseline)");
  require(e.scale >= 0 && e.scale < int(Estimator::kScaleNames.size()), "unknown GRPO scale");
  require(e.kl_estimator >= 0 && e.kl_estimator < int(Estimator::kKLNames.size()), "unknown kl_estimator");
  require(e.eps >= 0.0 && e.kl >= 0.0 && e.entropy >= 0.0 && e.clip >= 0.0,
          "eps, kl, entropy and clip must be >= 0");
  require(e.epochs >= 1, "epochs must be >= 1");
  require(e.epochs == 1 || cfg.behavior.kind == Behavior::kOnPolicy,
          "reusing a batch (epochs > 1) needs the on-policy behaviour: the ratio is against the policy that sampled it");
}

void check_config(const TrainConfig& cfg, const Spec& spec, bool has_base) {
  require(cfg.batch >= 1, "batch_size must be >= 1");
  require(cfg.steps >= 0, "steps must be >= 0");
  require(cfg.n_threads >= 1, "n_threads must be >= 1");
  check_estimator(cfg.estimator, cfg);
  require(cfg.lq_eps >= 0.0 && cfg.lq_eps <= 1.0, "lq_eps must lie in [0, 1]");
  require(cfg.behavior.m >= 1, "best-of-m needs m >= 1");
  require(cfg.behavior.eps >= 0.0 && cfg.behavior.eps <= 1.0, "the behaviour's eps must lie in [0, 1]");
  check_reward(cfg.reward, spec.N);
  require(!needs_base(cfg.behavior.kind) || has_base, "this behaviour policy needs a base model");
  require(cfg.behavior.kind != Behavior::kBestOfM || cfg.reward.kind == RewardSpec::kProcess,
          "best_of_m exploration needs a process reward");
  require(cfg.reward.kind != RewardSpec::kNone || cfg.estimator.kind == Estimator::kSupervised,
          "a step without reward must use the supervised estimator");
  require(cfg.track_every >= 0 && cfg.test_every >= 0, "record intervals must be >= 0");
  (void)spec;
}

class TrainRun : RunTarget {
 public:
  TrainRun(ModelPtr model, TaskPtr task, std::optional<ModelPtr> base, std::optional<ModelPtr> reference,
           const TrainConfig& cfg, const py::object& test, const py::object& track, const CArray<double>& opt_state)
      : RunTarget(std::move(model), std::move(task), std::move(base)), cfg_(cfg),
        test_(test, model_->spec, "test"), track_(track, model_->spec, "track"),
        ref_(reference ? std::move(*reference) : nullptr) {
    const Spec& spec = model_->spec;
    if (ref_) require(ref_->spec.k == spec.k && ref_->spec.N == spec.N && ref_->spec.d == spec.d &&
                          ref_->spec.blocks == spec.blocks,
                      "reference: its sizes and blocks differ from the model's");
    check_config(cfg_, spec, bool(base_));
    check_shape(opt_state, "opt_state", {spec.num_params});
    opt_.resize(std::size_t(spec.num_params));
    spec.to_internal(opt_state.data(), opt_.data());
    const Index rows_test = cfg_.test_every > 0 ? record_row(cfg_.steps, cfg_.test_every) + 1 : 0;
    const Index rows_track = cfg_.track_every > 0 ? record_row(cfg_.steps, cfg_.track_every) + 1 : 0;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::size_t test_rows = std::size_t(test_.x.n > 0 ? rows_test : 0);
    for (auto* v : {&rec_.test_error, &rec_.test_entropy, &rec_.test_kl, &rec_.test_token_lq}) v->assign(test_rows, nan);
    rec_.track_log_lik.assign(std::size_t(rows_track * track_.x.n), nan);
    rec_.mean_reward.assign(std::size_t(cfg_.steps), nan);
    rec_.success.assign(std::size_t(cfg_.steps), nan);
    rec_.all_equal.assign(std::size_t(cfg_.steps), nan);
    rec_.clipped.assign(std::size_t(cfg_.steps), nan);
    rec_.queries.assign(std::size_t(cfg_.steps), 0);
  }

  void run(const py::object& reward_fn, const py::object& progress) {
    require(!started_, "a training run runs once");
    started_ = true;
    const Spec& spec = model_->spec;
    BusyGuard busy(*model_, "training");
    require(!cfg_.reward.external || !reward_fn.is_none(), "an external reward needs a callable");
    const RewardOracle oracle(cfg_.reward, spec.N,
                              python_reward(reward_fn, cfg_.reward.kind == RewardSpec::kProcess, spec.d, spec.N));
    const Prepared run(*task_, base_.get());
    // The reference: the given model, or this one as it is now (the run's starting point).
    const Policy ref = ref_ ? ref_->snapshot() : model_->snapshot();
    TrainState st;
    st.w = model_->w.data();
    st.opt_state = opt_.data();
    st.base = run.base();
    st.ref = &ref;
    st.test = test_.view();
    st.track = track_.view();
    const StepHook hook = python_hook(progress);
    note_fork(cfg_.n_threads);
    try {
      without_gil([&] { train(spec, run.task(), cfg_, oracle, st, rec_, hook); });
    } catch (...) {
      queries_ = oracle.queries();
      throw;
    }
    queries_ = oracle.queries();
  }

  py::dict records() const {
    py::dict d;
    d["test_error"] = owned(rec_.test_error, {Index(rec_.test_error.size())});
    d["test_entropy"] = owned(rec_.test_entropy, {Index(rec_.test_entropy.size())});
    d["test_kl"] = owned(rec_.test_kl, {Index(rec_.test_kl.size())});
    d["test_token_log_lq"] = owned(rec_.test_token_lq, {Index(rec_.test_token_lq.size())});
    d["all_equal"] = owned(rec_.all_equal, {cfg_.steps});
    d["clipped"] = owned(rec_.clipped, {cfg_.steps});
    d["track_log_lik"] = owned(rec_.track_log_lik, {track_.x.n > 0 ? Index(rec_.track_log_lik.size()) / track_.x.n : 0,
                                                   track_.x.n});
    d["mean_reward"] = owned(rec_.mean_reward, {cfg_.steps});
    d["success"] = owned(rec_.success, {cfg_.steps});
    d["queries"] = owned(rec_.queries, {cfg_.steps});
    d["steps_done"] = rec_.steps_done;
    d["total_queries"] = queries_;  // also the queries of a step abandoned after its rewards
    py::array_t<double> opt({Index(opt_.size())});
    model_->spec.to_flat(opt_.data(), opt.mutable_data());
    d["opt_state"] = opt;
    return d;
  }

 private:
  TrainConfig cfg_;
  OwnedEvalSet test_, track_;
  ModelPtr ref_;  // null: the model at the start of the run
  std::vector<double> opt_;
  TrainRecords rec_;
  std::int64_t queries_ = 0;
  bool started_ = false;
};

}  // namespace

void bind_training(py::module_& m) {
  bind_kind<RewardSpec::Kind>(m, "RewardKind", RewardSpec::kNames);
  bind_kind<Behavior::Kind>(m, "BehaviorKind", Behavior::kNames);
  bind_kind<Estimator::Kind>(m, "EstimatorKind", Estimator::kNames);
  bind_kind<Optimizer::Kind>(m, "OptimizerKind", Optimizer::kNames);
  bind_fields<RewardSpec>(m, "RewardSpec");
  bind_fields<Estimator>(m, "Estimator");
  bind_fields<Behavior>(m, "Behavior");
  bind_fields<Optimizer>(m, "Optimizer");
  bind_fields<TrainConfig>(m, "TrainConfig");

  py::class_<TrainRun>(m, "TrainRun", "One training run (private: use lpgx.pretrain / lpgx.post_train)")
      .def(py::init<ModelPtr, TaskPtr, std::optional<ModelPtr>, std::optional<ModelPtr>, const TrainConfig&,
                    py::object, py::object, const CArray<double>&>(),
           py::arg("model"), py::arg("task"), py::arg("base"), py::arg("reference"), py::arg("cfg"), py::arg("test"),
           py::arg("track"), py::arg("opt_state").noconvert())
      .def("run", &TrainRun::run, py::arg("reward_fn"), py::arg("progress"))
      .def("records", &TrainRun::records);

  m.def(
      "pg_step",
      // One step from given responses y ((B·G)×N); the oracle's noise comes from cfg.seed.
      [](ModelPtr model, std::optional<ModelPtr> reference, TrainConfig cfg, const CArray<double>& x,
         const CArray<std::int32_t>& ystar, const CArray<std::int32_t>& y, const py::object& reward_fn,
         const CArray<double>& opt_state) {
        const Spec& spec = model->spec;
        const Contexts xc(x, spec.d, "x");
        const Index B = xc.n, G = cfg.estimator.group_size;
        require(G >= 1, "group_size must be >= 1");
        const Tokens ys(ystar, B, spec.N, spec.k, "y_star"), yc(y, B * G, spec.N, spec.k, "y");
        check_shape(opt_state, "opt_state", {spec.num_params});
        cfg.batch = B;
        cfg.behavior.kind = Behavior::kGiven;
        check_config(cfg, spec, false);
        require(!cfg.reward.external || !reward_fn.is_none(), "an external reward needs a callable");
        std::vector<double> opt(static_cast<std::size_t>(spec.num_params));
        spec.to_internal(opt_state.data(), opt.data());
        const RewardOracle oracle(cfg.reward, spec.N,
                                  python_reward(reward_fn, cfg.reward.kind == RewardSpec::kProcess, spec.d, spec.N));
        BusyGuard busy(*model, "pg_step");
        note_fork(cfg.n_threads);
        double mean_r = 0.0;
        without_gil([&] {
          PGStep step(spec, cfg);
          std::vector<std::int32_t> out(std::size_t(B * G * spec.N));
          StepInputs in;
          in.x = xc.data();
          in.ystar = ys.data();
          in.noise_key = cfg.seed;
          in.given = yc.data();
          // the reference: the given model, or this one before the step
          const Policy ref = reference ? (*reference)->snapshot() : model->snapshot();
          mean_r = step.run(model->w.data(), opt.data(), nullptr, &ref, oracle, in, out.data()).mean_reward;
        });
        py::array_t<double> opt_out({spec.num_params});
        spec.to_flat(opt.data(), opt_out.mutable_data());
        return py::make_tuple(mean_r, oracle.queries(), opt_out);
      },
      py::arg("model"), py::arg("reference"), py::arg("cfg"), py::arg("x").noconvert(), py::arg("ystar").noconvert(),
      py::arg("y").noconvert(), py::arg("reward_fn"), py::arg("opt_state").noconvert());

  m.def(
      "judge",
      [](const RewardSpec& spec, const CArray<std::int32_t>& y, const CArray<std::int32_t>& ystar, int k,
         std::uint64_t key, int n_threads) {
        require(spec.kind != RewardSpec::kNone && !spec.external, "judge: a built-in outcome or process reward");
        require(y.ndim() == 2, "y must be 2-D (B, N)");
        const Index B = y.shape(0);
        const int N = static_cast<int>(y.shape(1));
        const Tokens yc(y, B, N, k, "y", CopyTo::kScratch0, n_threads),
            ys(ystar, B, N, k, "y_star", CopyTo::kScratch1, n_threads);
        const RewardOracle oracle(spec, N);
        CArray<double> r(spec.kind == RewardSpec::kProcess ? std::vector<Index>{B, N} : std::vector<Index>{B});
        double* rp = r.mutable_data();
        note_fork(n_threads);
        without_gil([&] { judge_batch(oracle, yc.data(), ys.data(), B, key, rp, n_threads); });
        return r;
      },
      py::arg("spec"), py::arg("y").noconvert(), py::arg("y_star").noconvert(), py::arg("k"), py::arg("key"),
      py::arg("n_threads"));
}

}  // namespace lpgx::bind
