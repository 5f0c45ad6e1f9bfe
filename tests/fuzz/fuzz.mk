# tests/fuzz/fuzz.mk: libFuzzer targets for the front end and the runtime's
# file readers, included by the Makefile. Only `make fuzz` (and the files
# under build/fuzz/) need clang and its fuzzer runtime (Debian:
# clang-14 libclang-rt-14-dev); the normal build and `make test` do not.
#   make fuzz FUZZ_SECONDS=N    build, then run each target N seconds (tests/fuzz/run)
#   make fuzz-build             build build/fuzz/fuzz_* and the seed corpora only
# Everything is compiled again, instrumented and with ASan + UBSan, into
# build/fuzz/, apart from the normal build.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FZ           := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_BASE    := -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L $(FUZZ_SAN)
FUZZ_CFLAGS  := $(FUZZ_BASE) $(WARN) -Wno-unknown-attributes $(shell pkg-config --cflags cairo)
FUZZ_TARGETS := $(sort $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))))
FUZZ_RT_OBJ  := $(RT_SRC:runtime/%.c=$(FZ)/rt/%.o)
FUZZ_CC_OBJ  := $(filter-out $(FZ)/cc/main.o,$(CC_SRC:compiler/%.c=$(FZ)/cc/%.o)) \
                $(FZ)/cc/front/lexer.o $(FZ)/cc/front/parser.o
FUZZ_AE      := $(wildcard models/*.ae tests/models/*.ae tests/bad/*.ae)

$(FZ)/rt/%.o: runtime/%.c $(wildcard runtime/*.h runtime/*/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Iruntime -c $< -o $@

$(FZ)/libaecrt.a: $(FUZZ_RT_OBJ)
	rm -f $@ && ar rcs $@ $^

# flex's and bison's C comes from the normal build's rules ($(B)/cc/).
$(FZ)/cc/front/lexer.o $(FZ)/cc/front/parser.o: $(FZ)/cc/%.o: $(B)/cc/%.c $(CC_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_BASE) -fsanitize=fuzzer-no-link -Icompiler -I$(B)/cc -c $< -o $@

$(FZ)/cc/%.o: compiler/%.c $(CC_HDR) $(B)/cc/front/parser.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Icompiler -I$(B)/cc -c $< -o $@

$(FZ)/fuzz_frontend: tests/fuzz/fuzz_frontend.c $(FUZZ_CC_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Icompiler -I$(B)/cc $< $(FUZZ_CC_OBJ) -lm -o $@

$(FZ)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FZ)/libaecrt.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Iruntime $< $(FZ)/libaecrt.a $(LIBS) -o $@

$(FZ)/mkseeds: tests/fuzz/seeds.c $(FZ)/libaecrt.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Iruntime $< $(FZ)/libaecrt.a $(LIBS) -o $@

# The seed corpora: every .ae file we have for the front end (named after
# its folder, since names repeat), and what mkseeds writes for the loaders.
$(FZ)/seeds/.done: $(FZ)/mkseeds $(FUZZ_AE)
	rm -rf $(FZ)/seeds && mkdir -p $(FZ)/seeds/fuzz_frontend
	@for f in $(FUZZ_AE); do cp "$$f" "$(FZ)/seeds/fuzz_frontend/$$(echo "$$f" | tr / _)"; done
	$(FZ)/mkseeds $(FZ)/seeds
	touch $@

fuzz-build: $(FUZZ_TARGETS:%=$(FZ)/%) $(FZ)/seeds/.done

fuzz: fuzz-build
	AEC_FUZZ_BUILT=1 bash tests/fuzz/run $(FUZZ_SECONDS)

.PHONY: fuzz fuzz-build
