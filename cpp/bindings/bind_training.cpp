// Bindings of the training loop (cpp/lpgx/train.hpp): configuration structs, the loop,
// and one update from given responses. Python callables (user rewards, progress) are
// called with the GIL re-acquired; Ctrl-C is checked after every step.
#include "common.hpp"
#include "lpgx/train.hpp"

namespace lpgx::bind {

// Adapts a Python verifier fn(x, y) -> r to the engine's RewardCallback.
RewardCallback python_reward(const py::object& fn, bool process, int d, int N) {
  if (fn.is_none()) return {};
  return [fn, process, d, N](const double* x, const std::int32_t* y, Index B, double* r) {
    py::gil_scoped_acquire gil;
    CArray<double> xa({B, Index(d)});
    CArray<std::int32_t> ya({B, Index(N)});
    std::copy(x, x + B * d, xa.mutable_data());
    std::copy(y, y + B * N, ya.mutable_data());
    py::object out = fn(xa, ya);
    const py::array raw = py::array::ensure(out);
    const char kind = raw ? raw.dtype().kind() : 'O';
    if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f')
      throw py::type_error("reward callable must return real numbers (an int, float or bool array)");
    auto arr = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(raw);
    if (!arr) throw py::type_error("reward callable must return a numeric array");
    const Index want = process ? B * N : B;
    const bool shape_ok = process ? (arr.ndim() == 2 && arr.shape(0) == B && arr.shape(1) == N)
                                  : (arr.ndim() == 1 && arr.shape(0) == B);
    if (!shape_ok)
      throw py::value_error(process ? "reward callable must return shape (B, N) for a process reward"
                                    : "reward callable must return shape (B,) for an outcome reward");
    const double* p = arr.data();
    for (Index i = 0; i < want; ++i)
      if (!std::isfinite(p[i])) throw py::value_error("reward callable returned NaN or infinity");
    std::copy(p, p + want, r);
  };
}

Task make_task(const Spec& spec, int kind, int num_mix, double sigma, const std::optional<Policy>& teacher,
               const std::optional<CArray<double>>& fx, const std::optional<CArray<double>>& fmass,
               const std::optional<CArray<std::int32_t>>& fy) {
  Task t;
  t.d = spec.d;
  t.N = spec.N;
  if (kind == 2) {
    require(fx && fmass && fy, "finite task needs contexts, masses and responses");
    const Index n = fx->shape(0);
    check_shape(*fx, "task contexts", {n, spec.d});
    check_shape(*fmass, "task masses", {n});
    check_tokens(*fy, n, spec.N, spec.k);
    t.n_finite = n;
    t.finite_x = fx->data();
    t.finite_ystar = fy->data();
    double acc = 0.0;
    for (Index j = 0; j < n; ++j) {
      require(fmass->data()[j] >= 0.0 && std::isfinite(fmass->data()[j]), "task masses must be finite and >= 0");
      acc += fmass->data()[j];
      t.finite_cdf.push_back(acc);
    }
    require(acc > 0.0, "task masses must not all be zero");
  } else {
    require(kind == 0 || kind == 1, "unknown input kind");
    require(teacher.has_value(), "generated inputs need a teacher");
    t.inputs = InputDist{static_cast<InputKind>(kind), spec.d, num_mix, sigma};
  }
  return t;
}

void bind_training(py::module_& m) {
  py::enum_<RewardSpec::Kind>(m, "RewardKind")
      .value("none", RewardSpec::kNone)
      .value("outcome", RewardSpec::kOutcome)
      .value("process", RewardSpec::kProcess);
  py::class_<RewardSpec>(m, "RewardSpec")
      .def(py::init<>())
      .def_readwrite("kind", &RewardSpec::kind)
      .def_readwrite("pos", &RewardSpec::pos)
      .def_readwrite("neg", &RewardSpec::neg)
      .def_readwrite("flip_prob", &RewardSpec::flip_prob)
      .def_readwrite("external", &RewardSpec::external);
  py::enum_<Behavior::Kind>(m, "BehaviorKind")
      .value("on_policy", Behavior::kOnPolicy)
      .value("frozen", Behavior::kFrozen)
      .value("uniform", Behavior::kUniform)
      .value("eps_mixture", Behavior::kEpsMixture)
      .value("base_uniform_seq", Behavior::kBaseUniformSeq)
      .value("base_uniform_token", Behavior::kBaseUniformToken)
      .value("best_of_m", Behavior::kBestOfM)
      .value("teacher_forcing", Behavior::kTeacherForcing);
  py::class_<Behavior>(m, "Behavior")
      .def(py::init<>())
      .def_readwrite("kind", &Behavior::kind)
      .def_readwrite("eps", &Behavior::eps)
      .def_readwrite("m", &Behavior::m);
  py::enum_<Optimizer::Kind>(m, "OptimizerKind")
      .value("adagrad", Optimizer::kAdagrad)
      .value("sgd", Optimizer::kSGD)
      .value("adaptive", Optimizer::kAdaptive);
  py::class_<Optimizer>(m, "Optimizer")
      .def(py::init<>())
      .def_readwrite("kind", &Optimizer::kind)
      .def_readwrite("lr", &Optimizer::lr)
      .def_readwrite("eps", &Optimizer::eps)
      .def_readwrite("a", &Optimizer::a)
      .def_readwrite("b", &Optimizer::b)
      .def_readwrite("mean_loss", &Optimizer::mean_loss);
  py::class_<TrainConfig>(m, "TrainConfig")
      .def(py::init<>())
      .def_readwrite("batch", &TrainConfig::batch)
      .def_readwrite("steps", &TrainConfig::steps)
      .def_readwrite("seed", &TrainConfig::seed)
      .def_readwrite("n_threads", &TrainConfig::n_threads)
      .def_readwrite("reward", &TrainConfig::reward)
      .def_readwrite("baseline", &TrainConfig::baseline)
      .def_readwrite("behavior", &TrainConfig::behavior)
      .def_readwrite("optimizer", &TrainConfig::optimizer)
      .def_readwrite("track_every", &TrainConfig::track_every)
      .def_readwrite("test_every", &TrainConfig::test_every)
      .def_readwrite("fuse", &TrainConfig::fuse);

  m.def(
      "train",
      [](int k, int N, int d, unsigned blocks, CArray<double> w, CArray<double> opt_state,
         int task_kind, int num_mix, double sigma, std::optional<unsigned> teacher_blocks,
         std::optional<CArray<double>> teacher_w, std::optional<CArray<double>> finite_x,
         std::optional<CArray<double>> finite_mass, std::optional<CArray<std::int32_t>> finite_y,
         std::optional<unsigned> base_blocks, std::optional<CArray<double>> base_w, const TrainConfig& cfg,
         std::optional<CArray<double>> track_x, std::optional<CArray<std::int32_t>> track_y,
         CArray<double> track_out, std::optional<CArray<double>> test_x,
         std::optional<CArray<std::int32_t>> test_y, CArray<double> test_out, CArray<double> mean_reward,
         CArray<double> success, CArray<std::int64_t> queries, CArray<std::int64_t> done, Index s0,
         py::object reward_fn, py::object progress) {
        const Spec spec = make_spec(k, N, d, blocks, w);
        check_shape(opt_state, "opt_state", {spec.num_params});
        require(cfg.batch >= 1 && cfg.steps >= 0 && s0 >= 0 && s0 <= cfg.steps, "invalid batch/steps");
        require(cfg.n_threads >= 1, "n_threads must be >= 1");
        check_shape(mean_reward, "mean_reward", {cfg.steps});
        check_shape(success, "success", {cfg.steps});
        check_shape(queries, "queries", {cfg.steps});
        check_shape(done, "done", {1});
        std::optional<Policy> teacher, base;
        if (teacher_blocks) teacher.emplace(make_spec(k, N, d, *teacher_blocks, *teacher_w), teacher_w->data());
        if (base_blocks) base.emplace(make_spec(k, N, d, *base_blocks, *base_w), base_w->data());
        const bool needs_base = cfg.behavior.kind == Behavior::kFrozen ||
                                cfg.behavior.kind == Behavior::kBaseUniformSeq ||
                                cfg.behavior.kind == Behavior::kBaseUniformToken;
        require(!needs_base || base.has_value(), "this behaviour policy needs a base model");
        require(cfg.behavior.m >= 1, "best-of-m needs m >= 1");
        Task task = make_task(spec, task_kind, num_mix, sigma, teacher, finite_x, finite_mass, finite_y);
        task.teacher = teacher ? &*teacher : nullptr;
        const Index rows_track = cfg.track_every > 0 ? record_row(cfg.steps, cfg.track_every) + 1 : 0;
        const Index rows_test = cfg.test_every > 0 ? record_row(cfg.steps, cfg.test_every) + 1 : 0;
        TrainState st;
        st.w = w.mutable_data();
        st.opt_state = opt_state.mutable_data();
        if (track_x) {
          check_shape(*track_x, "track_x", {-1, d});
          st.n_track = track_x->shape(0);
          check_tokens(*track_y, st.n_track, N, k);
          check_shape(track_out, "track_out", {rows_track, st.n_track});
          st.track_x = track_x->data();
          st.track_y = track_y->data();
          st.track_log_lik = track_out.mutable_data();
        }
        if (test_x) {
          check_shape(*test_x, "test_x", {-1, d});
          st.n_test = test_x->shape(0);
          check_tokens(*test_y, st.n_test, N, k);
          check_shape(test_out, "test_out", {rows_test});
          st.test_x = test_x->data();
          st.test_y = test_y->data();
          st.test_error = test_out.mutable_data();
        }
        st.mean_reward = mean_reward.mutable_data();
        st.success = success.mutable_data();
        st.queries = queries.mutable_data();
        std::int64_t* done_ptr = done.mutable_data();
        const RewardCallback user = python_reward(reward_fn, cfg.reward.kind == RewardSpec::kProcess, d, N);
        require(!cfg.reward.external || bool(user), "external reward needs a callable");
        const StepHook hook = python_hook(done_ptr, progress);
        py::gil_scoped_release release;
        const InterruptScope interrupts(check_signals);  // Ctrl-C within a step, too
        train(spec, task, base ? &*base : nullptr, cfg, st, s0, user, hook);
        done_ptr[0] = st.steps_done;
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(),
      py::arg("opt_state").noconvert(), py::arg("task_kind"), py::arg("num_mix"), py::arg("sigma"),
      py::arg("teacher_blocks"), py::arg("teacher_w"), py::arg("finite_x"), py::arg("finite_mass"),
      py::arg("finite_y"), py::arg("base_blocks"), py::arg("base_w"), py::arg("cfg"), py::arg("track_x"),
      py::arg("track_y"), py::arg("track_out").noconvert(), py::arg("test_x"), py::arg("test_y"),
      py::arg("test_out").noconvert(), py::arg("mean_reward").noconvert(), py::arg("success").noconvert(),
      py::arg("queries").noconvert(), py::arg("done").noconvert(), py::arg("s0"), py::arg("reward_fn"),
      py::arg("progress"));

  m.def(
      "learn_from",
      [](int k, int N, int d, unsigned blocks, CArray<double> w, CArray<double> opt_state,
         const CArray<double>& x, const CArray<std::int32_t>& ystar, const CArray<std::int32_t>& y,
         const TrainConfig& cfg, std::uint64_t noise_key, py::object reward_fn) {
        const Spec spec = make_spec(k, N, d, blocks, w);
        check_shape(opt_state, "opt_state", {spec.num_params});
        check_shape(x, "x", {-1, d});
        const Index B = x.shape(0);
        check_tokens(ystar, B, N, k);
        check_tokens(y, B, N, k);
        require(cfg.n_threads >= 1, "n_threads must be >= 1");
        const RewardCallback user = python_reward(reward_fn, cfg.reward.kind == RewardSpec::kProcess, d, N);
        require(!cfg.reward.external || bool(user), "external reward needs a callable");
        std::int64_t queries = 0;
        double mean_r;
        {
          py::gil_scoped_release release;
          mean_r = learn_from(spec, cfg, w.mutable_data(), opt_state.mutable_data(), x.data(), ystar.data(),
                              y.data(), B, noise_key, user, &queries);
        }
        return py::make_tuple(mean_r, queries);
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(),
      py::arg("opt_state").noconvert(), py::arg("x").noconvert(), py::arg("ystar").noconvert(),
      py::arg("y").noconvert(), py::arg("cfg"), py::arg("noise_key"), py::arg("reward_fn"));
}

}  // namespace lpgx::bind
