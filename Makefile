# aec: build the compiler, the runtime library, every model in models/, and the tests.
#   make          build/aec, build/libaecrt.a and build/<model> for each models/*.ae
#   make test     build and run the test suite (cmocka)
#   make bench    aec against PyTorch on the same cores (see bench/README.md)

CC      ?= cc
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wno-unused-parameter
CFLAGS  := $(OPT) $(WARN) -std=c11 -D_POSIX_C_SOURCE=200809L $(shell pkg-config --cflags cairo)
LIBS    := -lopenblas -lcairo -ljpeg -lpng -lz -lm
B       := build

RT_SRC  := $(sort $(wildcard runtime/*.c))
RT_OBJ  := $(RT_SRC:runtime/%.c=$(B)/rt/%.o)
CC_SRC  := $(sort $(wildcard compiler/*.c))
CC_OBJ  := $(CC_SRC:compiler/%.c=$(B)/cc/%.o) $(B)/cc/lexer.o $(B)/cc/parser.o
MODELS  := $(sort $(basename $(notdir $(wildcard models/*.ae))))

all: $(B)/aec $(B)/libaecrt.a $(MODELS:%=$(B)/%)

# ---- runtime --------------------------------------------------------------
$(B)/rt/%.o: runtime/%.c $(wildcard runtime/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libaecrt.a: $(RT_OBJ)
	rm -f $@ && ar rcs $@ $^

# ---- compiler -------------------------------------------------------------
$(B)/cc/parser.c $(B)/cc/parser.h: compiler/parser.y
	@mkdir -p $(@D)
	bison -Wall -Werror --defines=$(B)/cc/parser.h -o $(B)/cc/parser.c $<

$(B)/cc/lexer.c: compiler/lexer.l $(B)/cc/parser.h
	@mkdir -p $(@D)
	flex -o $@ $<

$(B)/cc/lexer.o $(B)/cc/parser.o: $(B)/cc/%.o: $(B)/cc/%.c $(wildcard compiler/*.h)
	$(CC) $(OPT) -std=c11 -D_POSIX_C_SOURCE=200809L -Icompiler -I$(B)/cc -c $< -o $@

$(B)/cc/%.o: compiler/%.c $(wildcard compiler/*.h) $(B)/cc/parser.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icompiler -I$(B)/cc -DAEC_HOME='"$(CURDIR)"' -c $< -o $@

$(B)/aec: $(CC_OBJ)
	$(CC) $(OPT) -o $@ $^ -lm

# ---- models ---------------------------------------------------------------
$(B)/%: models/%.ae $(B)/aec $(B)/libaecrt.a
	$(B)/aec build $< -o $@

# ---- tests ----------------------------------------------------------------
include tests/tests.mk

bench: all
	bash bench/run

clean:
	rm -rf $(B)

.PHONY: all test bench clean
.SECONDARY:

# ---- examples: programs of your own around a generated model ----------------
$(B)/gen/%.c: models/%.ae $(B)/aec
	$(B)/aec emit $< -o $(@D)

$(B)/latent_walk: examples/latent_walk.c $(B)/gen/celeba_vae.c $(B)/libaecrt.a
	$(CC) $(CFLAGS) -O3 -march=native -DAEC_NO_MAIN -Iruntime -I$(B)/gen $< $(B)/gen/celeba_vae.c \
	    $(B)/libaecrt.a $(LIBS) -o $@
