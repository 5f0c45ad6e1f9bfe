# aec: build the compiler, the runtime library, every model in models/, and the tests.
#   make          build/aec, build/libaecrt.a and build/<model> for each models/*.ae
#   make test     build and run the test suite (cmocka)
#   make bench    aec against PyTorch on the same cores (see bench/README.md)
#   make test SAN=1   the same, all of it under AddressSanitizer and UBSan, in build-san/
#   make install [PREFIX=/usr/local] [DESTDIR=...]   and make uninstall (install.mk)
#   make MPI=0    no build/libaecrt-mpi.a even where mpicc is found (see MPI below)

CC      ?= cc
OPT     ?= -O2 -g
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ifeq ($(SAN),1)
OPT     := -O1 -g $(SANITIZE)
endif
WARN    := -Wall -Wextra -Wno-unused-parameter
CFLAGS  := $(OPT) $(WARN) -std=c11 -D_POSIX_C_SOURCE=200809L $(shell pkg-config --cflags cairo)
LIBS    := -lopenblas -lcairo -ljpeg -lpng -lz -lm
B       := $(if $(filter 1,$(SAN)),build-san,build)

ifeq ($(SAN),1)
# `aec build` compiles the generated C with $AEC_CFLAGS and links
# $AEC_HOME/build/libaecrt.a: the sanitized ones, through build-san/home
# (links to runtime/ and build-san/, made in tests/tests.mk).
export AEC_CFLAGS   := -O1 -g $(SANITIZE)
export AEC_HOME     := $(CURDIR)/$(B)/home
# Any report is fatal, and aborts (a signal, never mistaken for exit status 1).
# No leak checks: fontconfig's one-time static allocations behind cairo's text
# (the report's plots) are reported as leaks.
export ASAN_OPTIONS := detect_leaks=0:halt_on_error=1:abort_on_error=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1:abort_on_error=1
endif

RT_SRC  := $(sort $(wildcard runtime/*/*.c))
RT_OBJ  := $(RT_SRC:runtime/%.c=$(B)/rt/%.o)
CC_SRC  := $(sort $(wildcard compiler/*.c compiler/*/*.c))
CC_HDR  := $(wildcard compiler/*.h compiler/*/*.h)
CC_OBJ  := $(CC_SRC:compiler/%.c=$(B)/cc/%.o) $(B)/cc/front/lexer.o $(B)/cc/front/parser.o
MODELS  := $(sort $(basename $(notdir $(wildcard models/*.ae))))

# MPI: where mpicc is found (and not MPI=0), a second runtime library whose
# core/ranks.c is MPI's (-DAEC_MPI); `aec build` links models with it through
# mpicc, so that `mpirun -np N build/MODEL train` trains data-parallel. The
# rest of the runtime is the same objects: ranks.c is the only MPI caller.
MPICC   := $(if $(filter 0,$(MPI)),,$(shell command -v mpicc 2>/dev/null))
MPI_LIB := $(if $(MPICC),$(B)/libaecrt-mpi.a)

all: $(B)/aec $(B)/libaecrt.a $(MPI_LIB) $(MODELS:%=$(B)/%)

# ---- runtime --------------------------------------------------------------
# Rooms include each other's headers by room: "core/clock.h", "io/json.h".
$(B)/rt/%.o: runtime/%.c $(wildcard runtime/*.h runtime/*/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iruntime -c $< -o $@

# sqrtf without errno, so that the optimizer's loops vectorise (runtime/exec/optim.c)
$(B)/rt/exec/optim.o: CFLAGS += -fno-math-errno

$(B)/libaecrt.a: $(RT_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/rt/core/ranks-mpi.o: runtime/core/ranks.c $(wildcard runtime/*.h runtime/*/*.h)
	$(MPICC) $(CFLAGS) -DAEC_MPI -Iruntime -c $< -o $@

$(B)/libaecrt-mpi.a: $(filter-out $(B)/rt/core/ranks.o,$(RT_OBJ)) $(B)/rt/core/ranks-mpi.o
	rm -f $@ && ar rcs $@ $^

# ---- compiler -------------------------------------------------------------
# Sources include headers by room, "front/ast.h", from compiler/ (and the
# grammar's generated parser.h from $(B)/cc/). ARCHITECTURE.md: the rooms.
# One bison run writes both files (&:), so make -j never runs it twice.
$(B)/cc/front/parser.c $(B)/cc/front/parser.h &: compiler/front/parser.y
	@mkdir -p $(@D)
	bison -Wall -Werror --defines=$(B)/cc/front/parser.h -o $(B)/cc/front/parser.c $<

$(B)/cc/front/lexer.c: compiler/front/lexer.l $(B)/cc/front/parser.h
	@mkdir -p $(@D)
	flex -o $@ $<

$(B)/cc/front/lexer.o $(B)/cc/front/parser.o: $(B)/cc/%.o: $(B)/cc/%.c $(CC_HDR)
	$(CC) $(OPT) -std=c11 -D_POSIX_C_SOURCE=200809L -Icompiler -I$(B)/cc -c $< -o $@

$(B)/cc/%.o: compiler/%.c $(CC_HDR) $(B)/cc/front/parser.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icompiler -I$(B)/cc -c $< -o $@

# aec --version: the version and the commit; home.o is rebuilt when either changes.
VERSION := 0.1.0
COMMIT  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
VERSION_DEFS := -DAEC_VERSION='"$(VERSION)"' -DAEC_COMMIT='"$(COMMIT)"'
$(shell mkdir -p $(B)/cc && echo '$(VERSION_DEFS)' | cmp -s - $(B)/cc/version.stamp || echo '$(VERSION_DEFS)' > $(B)/cc/version.stamp)
$(B)/cc/home.o: CFLAGS += $(VERSION_DEFS)
$(B)/cc/home.o: $(B)/cc/version.stamp

$(B)/aec: $(CC_OBJ)
	$(CC) $(OPT) -o $@ $^ -lm

# ---- models ---------------------------------------------------------------
$(B)/%: models/%.ae $(B)/aec $(B)/libaecrt.a $(MPI_LIB)
	$(if $(MPI_LIB),,AEC_MPI=0 )$(B)/aec build $< -o $@

# ---- tests ----------------------------------------------------------------
include tests/tests.mk
include install.mk
include tests/fuzz/fuzz.mk

# make bench: never part of make test. bench/README.md says what it runs and prints.
bench: all $(B)/bench/sgemm_peak
	bash bench/run

bench-epochs: all
	bash bench/epochs

# make bench-allreduce: one step's allreduce between 2 ranks here, per model (needs mpicc).
bench-allreduce: $(B)/bench/allreduce
	mpirun $(if $(filter 0,$(shell id -u)),--allow-run-as-root) --oversubscribe -np 2 $< $(REPS)

$(B)/bench/allreduce: bench/allreduce.c
	@mkdir -p $(@D)
	$(if $(MPICC),$(MPICC),$(error bench-allreduce needs mpicc (apt-get install libopenmpi-dev))) $(OPT) -Wall -Wextra $< -o $@

$(B)/bench/sgemm_peak: bench/sgemm_peak.c runtime/aec.h $(B)/libaecrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iruntime $< $(B)/libaecrt.a -lopenblas -o $@

.PHONY: bench-epochs bench-allreduce

clean:
	rm -rf $(B)

.PHONY: all test bench clean
.SECONDARY:

# ---- examples: programs of your own around a generated model ----------------
$(B)/gen/%.c: models/%.ae $(B)/aec
	$(B)/aec emit $< -o $(@D)

$(B)/latent_walk: examples/latent_walk.c $(B)/gen/celeba_vae.c $(B)/libaecrt.a
	$(CC) $(CFLAGS) -O2 -fvect-cost-model=dynamic -march=native -fopenmp -DAEC_NO_MAIN -Iruntime -I$(B)/gen $< $(B)/gen/celeba_vae.c \
	    $(B)/libaecrt.a $(LIBS) -o $@
